"""RFC 5005 archived feeds: which numbered page holds each entry that left a feed.

A feed's current document shows its newest ``max_items`` entries; every older
entry sits on exactly one archive page, ``<feed>/archive/<n>.atom``. Pages
fill oldest first, in the order entries leave the current document, and an
entry never moves to another page. So a page with a successor (a closed page)
changes only when one of its own documents is edited or deleted, caches may
keep it for long, and walking ``prev-archive`` from the current document
visits every entry once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .index import Index
from .model import Document, Feed

# More changed documents than this, and a feed's archive is compared whole
# (one query) rather than document by document.
WHOLE_ABOVE = 5000


@dataclass
class Plan:
    placed: list[tuple[str, int]] = field(default_factory=list)  # (key, page) newly archived
    removed: list[str] = field(default_factory=list)  # keys taken off their page
    touched: set[int] = field(default_factory=set)  # pages to render again

    def __bool__(self) -> bool:
        return bool(self.placed or self.removed or self.touched)


def plan(wanted: Sequence[str], have: dict[str, int], changed: set[str], tail: tuple[int, int], size: int) -> Plan:
    """Bring an archive in line (pure).

    ``wanted``: keys that belong on archive pages, oldest first; ``have``: the
    page of each key already archived (both over the same set of keys);
    ``tail``: the newest page and how many entries were ever put on it.
    """
    wanted_set = set(wanted)
    result = Plan()
    result.removed = sorted(key for key in have if key not in wanted_set)
    result.touched = {have[key] for key in result.removed}
    result.touched |= {have[key] for key in changed if key in have and key in wanted_set}  # edits
    page, filled = tail
    for key in wanted:
        if key in have:
            continue
        if page == 0 or filled >= size:
            if page:
                result.touched.add(page)  # it gains its next-archive link
            page, filled = page + 1, 0
        result.placed.append((key, page))
        result.touched.add(page)
        filled += 1
    return result


def update(index: Index, feed: Feed, current: Sequence[Document], limit: int, size: int,
           changed: set[str], whole: bool) -> int:
    """Archive what left ``feed``'s current document; returns its newest archive page (0: none).

    ``whole``: compare every document of the feed (a full publish); otherwise
    only the ``changed`` documents, the current ones and those that just left.
    """
    if size <= 0:
        return 0
    # Fewer than ``limit`` documents and the current document holds them all.
    boundary = current[-1].key if len(current) >= limit else None
    if whole or len(changed) > WHOLE_ABOVE:
        wanted = index.keys_before(feed, boundary) if boundary else []
        have = index.archived(feed)
    else:
        current_keys = {doc.key for doc in current}
        departed = index.departed(feed, boundary, changed) if boundary else []
        if changed <= current_keys:
            # Every change is in the current document (a drop): what just left it is all there is
            # to archive, and of the current entries only a changed one can be on a page (an old
            # document edited to a new date); the others were current before.
            wanted = departed[::-1]  # found newest first
            have = index.archived(feed, changed)
        else:
            scope = set(changed) | current_keys | set(departed)
            wanted = index.keys_before(feed, boundary, only=scope) if boundary else []
            have = index.archived(feed, scope)
    tail = index.archive_tail(feed)
    result = plan(wanted, have, changed, tail, size)
    if result:
        with index.batch():
            index.archive(feed, result.placed, result.removed, result.touched)
    return max([tail[0], *(page for _, page in result.placed)])
