"""The only writer of ``feeds/``: atomic, and only when the bytes change.

A reader (our server, nginx, a CDN pulling from disk) sees either the old file
or the new one, never half of one; an unchanged file keeps its mtime and ETag.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o644


def write_atomic(path: Path, data: bytes, dirty: set[Path] | None = None) -> None:
    """Temp file in the same folder, fsync, rename over, fsync the folder.

    With ``dirty``, the folder's fsync is left to :func:`sync_folders`, once
    for many files: the rename is atomic either way, only its durability waits.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if dirty is None:
        _fsync_dir(path.parent)
    else:
        dirty.add(path.parent)


def sync_folders(dirty: set[Path]) -> None:
    for folder in sorted(dirty):
        _fsync_dir(folder)
    dirty.clear()


def publish_if_changed(root: Path, relpath: str, data: bytes, dirty: set[Path] | None = None) -> bool:
    """Write ``root/relpath`` unless it already holds exactly ``data``."""
    path = root / relpath
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data, dirty)
    return True


def unpublish(root: Path, relpath: str, dirty: set[Path] | None = None) -> bool:
    path = root / relpath
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    if dirty is None:
        _fsync_dir(path.parent)
    else:
        dirty.add(path.parent)
    return True


def remove_stale_temp_files(root: Path) -> int:
    """Temp files a crash left behind (they are hidden, so never served)."""
    removed = 0
    for folder, _, files in os.walk(root):
        for name in files:
            if name.startswith(".") and name.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(folder, name))
                    removed += 1
                except OSError:
                    pass
    return removed


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
