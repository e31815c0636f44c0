"""Find and read seed files: the input edge of the pipeline.

Which names count, how symlinks and odd file types are treated, and how a
file is read without ever blocking (a FIFO) or reading past the size limit.
"""

from __future__ import annotations

import os
import stat
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .model import Rejected, shown_path

log = logging.getLogger(__name__)

SEED_SUFFIXES = (".txt", ".md")
_IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".part", ".crdownload", ".bak")


@dataclass(frozen=True)
class SeedFile:
    path: str  # relative to seeds/, with "/" separators
    size: int
    mtime_ns: int


def pack(seed: SeedFile) -> str:
    """One seed as text, for :func:`unpack`: file names hold no NUL."""
    return f"{seed.path}\0{seed.size}\0{seed.mtime_ns}\0"


def scan_packed(seeds: Path) -> str:
    """Every seed file under ``seeds``, packed (:func:`pack`): a daemon's start-up scan, handed back
    as one string from the worker that makes it (:func:`feedd.reconcile.survey`)."""
    return "".join(pack(seed) for seed in scan(seeds))


def unpack(packed: str) -> Iterator[SeedFile]:
    """Seeds packed one after another (:func:`pack`), in their order.

    A scan as one string rather than 100,000 small objects: it comes back from
    the worker process that made it as one object, and is unpacked one seed at
    a time where all of it is compared with the index
    (:meth:`feedd.index.Index.compare`), so the daemon's heap never holds the
    whole scan (100,000 objects made beside the drops' long-lived ones kept the
    allocator's arenas resident).
    """
    fields = packed.split("\0")
    for path, size, mtime_ns in zip(fields[0:-1:3], fields[1::3], fields[2::3]):
        yield SeedFile(path, int(size), int(mtime_ns))


def is_seed_name(name: str) -> bool:
    """Articles end in .txt or .md; hidden files and editor leftovers do not count."""
    lowered = name.lower()
    if name.startswith((".", "#", "~$")) or lowered.endswith(_IGNORED_SUFFIXES):
        return False
    return lowered.endswith(SEED_SUFFIXES)


def relative_seed_path(seeds: Path, path: Path) -> str | None:
    """The seed path of ``path`` if it names a seed file under ``seeds``."""
    try:
        parts = Path(os.path.abspath(path)).relative_to(os.path.abspath(seeds)).parts
    except ValueError:
        return None
    if not parts or any(p.startswith(".") for p in parts[:-1]) or not is_seed_name(parts[-1]):
        return None
    relpath = "/".join(parts)
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:
        log.warning("%s: skipped: file name is not valid UTF-8", shown_path(relpath))
        return None
    return relpath


def scan(seeds: Path) -> Iterator[SeedFile]:
    """Every seed file under ``seeds``; never follows a link out of it.

    os.scandir and plain strings: at 100,000 files, pathlib's objects were
    most of a start-up's time (bench/scale.py).
    """
    seeds = Path(seeds)
    if not seeds.is_dir():
        return
    yield from _scan_folder(seeds, os.fspath(seeds), "", os.path.realpath(seeds))


def _scan_folder(seeds: Path, folder: str, prefix: str, real_root: str) -> Iterator[SeedFile]:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return
    subfolders = []
    for entry in entries:
        name = entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                if not name.startswith("."):
                    subfolders.append(entry)
                continue
            if not is_seed_name(name):
                continue
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        relpath = prefix + name
        try:
            relpath.encode("utf-8")
        except UnicodeEncodeError:
            log.warning("%s: skipped: file name is not valid UTF-8", shown_path(relpath))
            continue
        if stat.S_ISREG(st.st_mode):
            yield SeedFile(relpath, st.st_size, st.st_mtime_ns)
        elif stat.S_ISLNK(st.st_mode):
            seed = stat_seed(seeds, relpath, real_root)  # a link: followed only inside seeds/
            if seed is not None:
                yield seed
    for entry in subfolders:
        yield from _scan_folder(seeds, entry.path, f"{prefix}{entry.name}/", real_root)


def stat_seed(seeds: Path, relpath: str, real_root: str | None = None) -> SeedFile | None:
    """The seed at ``relpath`` if it is (or links, inside seeds/, to) a regular file."""
    real_root = real_root or os.path.realpath(seeds)
    full = Path(seeds, relpath)
    try:
        st = full.lstat()
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(full)
            if os.path.commonpath([real_root, target]) != real_root:
                return None  # a link out of seeds/: not ours to publish
            st = os.stat(target)
    except (OSError, ValueError, RuntimeError):
        return None  # gone, a dangling link, or a loop
    if not stat.S_ISREG(st.st_mode):
        return None  # FIFOs, sockets, devices
    return SeedFile(relpath, st.st_size, st.st_mtime_ns)


def read_seed(seeds: Path, seed: SeedFile, max_bytes: int) -> bytes:
    """The file's bytes; :class:`Rejected` when too large or unreadable.

    Opened non-blocking, so a FIFO swapped in after the stat cannot hang us,
    and checked again with fstat on the open descriptor.
    """
    full = Path(seeds, seed.path)
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise Rejected(seed.path, f"cannot read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Rejected(seed.path, "not a regular file")
        if st.st_size > max_bytes:
            raise Rejected(seed.path, f"file too large ({st.st_size} bytes; the limit is {max_bytes})")
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise Rejected(seed.path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise Rejected(seed.path, f"file too large (over {max_bytes} bytes)")
    return data
