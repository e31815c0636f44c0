"""Identity recovered from what was published, for an index that was lost.

Each article page says, in two ``<meta>`` lines, the entry id it was published
under, the digest of the file's bytes and its dates. When the index is gone,
a rebuild matches every file by its bytes against these pages, so a file that
was renamed (its key came from its old name) keeps its id, and every
document keeps the dates readers already have: no article shows up twice.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .render import article_path

HEAD_BYTES = 4096  # the metas sit in the page's head
_META = re.compile(r'<meta name="feedd:(id|source)" content="([^"]*)">')


@dataclass(frozen=True)
class Published:
    """What an article page says of the document it shows."""

    key: str
    id: str
    hash: str
    published: datetime
    updated: datetime


def page_identity(key: str, head: str) -> Published | None:
    """Read the metas of an article page's head (pure); None if it has none (an older page)."""
    found = dict(_META.findall(head))
    try:
        digest, published, updated = found["source"].split(" ")
        return Published(key, html.unescape(found["id"]), digest,
                         datetime.fromisoformat(published), datetime.fromisoformat(updated))
    except (KeyError, ValueError):
        return None


def published_identities(feeds_dir: Path) -> dict[str, Published]:
    """Every article page under ``feeds_dir`` by the digest of its file's bytes."""
    folder = feeds_dir / Path(article_path("key")).parent
    found: dict[str, Published] = {}
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return found
    for name in names:
        if not name.endswith(".html") or name.startswith("."):
            continue
        try:
            with open(folder / name, "rb") as page:
                head = page.read(HEAD_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        identity = page_identity(name[: -len(".html")], head)
        if identity:
            found.setdefault(identity.hash, identity)
    return found
