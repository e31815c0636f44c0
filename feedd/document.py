"""Read a seed file: bytes in, :class:`Parsed` out (pure).

Decoding, header forms, cleaning of characters XML cannot carry, the title,
the summary and the body as HTML all happen here, and only here.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
import unicodedata
from datetime import date, datetime, time, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import charset_normalizer
from slugify import slugify

from .model import Parsed, Rejected

# Longer fields are cut at a word boundary with an ellipsis (readers show a line, not a page).
TITLE_MAX = 120
AUTHOR_MAX = 80
TAG_MAX = 60
SUMMARY_MAX = 300
HEADER_KEYS = frozenset({"title", "date", "tags", "lang", "author", "link", "id", "draft", "published", "status"})
# Front matter that holds a file back, as Hugo (draft), Jekyll (published) and Pelican (status) write it.
DRAFT_MARKERS = {"draft": {"true", "yes", "on", "1"}, "published": {"false", "no", "off", "0"},
                 "status": {"draft", "hidden"}}

# Characters XML 1.0 forbids, plus the C1 controls and noncharacters that the
# W3C validator warns about. Lone surrogates can come from surrogateescape.
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)
_CANONICAL = re.compile(r"^[ \t]*date[ \t]+(\d{4}-\d\d-\d\d(?:T\S+)?)(?:[ \t]+|$)", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)[ \t]*:[ \t]*(.*?)[ \t]*$")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»”’)]*\s|(?<=[。！？])")
_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
# Control characters no text holds (tab, newlines and form feed aside), and U+FFFD: a binary file's marks.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\ufffd]")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$")


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def parse(raw: bytes, path: str, zone: ZoneInfo) -> Parsed:
    """Parse a seed file's bytes; raise :class:`Rejected` with a reason."""
    text = clean_text(decode(raw, path))
    if not text.strip():
        raise Rejected(path, "empty document (no text)")
    header, body = split_header(text, path, zone)
    is_markdown = path.lower().endswith(".md")
    body = body.strip("\n")
    title = header.get("title")
    if is_markdown and not title:
        title, body = _markdown_title(body)
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(body) if p.strip()]
    if is_markdown:
        content_html = _markdown().render(body)
        plain = _html_text(content_html)
    else:
        content_html = "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
        plain = "\n\n".join(paragraphs)
    plain_paragraphs = [p for p in _PARAGRAPH_BREAK.split(plain) if p.strip()]
    first = _one_line(plain_paragraphs[0]) if plain_paragraphs else ""
    shortened: list[str] = []
    title = _bounded("title", _one_line(title) if title else first_sentence(first), TITLE_MAX, shortened)
    if not title:
        raise Rejected(path, "no title and no body text")
    author = header.get("author")
    return Parsed(
        path=path,
        title=title,
        date=header.get("date"),
        lang=header.get("lang"),
        author=_bounded("author", author, AUTHOR_MAX, shortened) if author else None,
        link=header.get("link"),
        id=header.get("id"),
        tags=tuple(_bounded("tag", tag, TAG_MAX, shortened) for tag in header.get("tags", ())),
        text=plain,
        summary=shorten(first, SUMMARY_MAX),
        content_html=content_html,
        shortened=tuple(shortened),
        draft=header.get("draft"),
    )


def _bounded(name: str, value: str, limit: int, shortened: list[str]) -> str:
    if len(value) <= limit:
        return value
    cut = shorten(value, limit)
    shortened.append(f"{name} cut to {len(cut)} characters at a word boundary (it had {len(value):,}): {cut!r}")
    return cut


def decode(raw: bytes, path: str) -> str:
    """Bytes to text: BOMs first, then strict UTF-8, then charset detection."""
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding, raw = "utf-32", raw
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif raw.startswith(codecs.BOM_UTF8):
        encoding, raw = "utf-8", raw[len(codecs.BOM_UTF8):]
    else:
        encoding = None
    if encoding:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise Rejected(path, f"invalid {encoding.upper()} despite its byte order mark at byte {exc.start}") from None
    if b"\x00" in raw:
        raise Rejected(path, "binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = _detect_charset(raw, path)
    controls = len(_CONTROL.findall(text))
    if controls > max(8, len(text) // 50):
        raise Rejected(path, "binary file (too many control characters for text)")
    return text


def _detect_charset(raw: bytes, path: str) -> str:
    matches = list(charset_normalizer.from_bytes(raw))
    if not matches:
        raise Rejected(path, "undecodable text (not UTF-8, and no known encoding fits)")
    best = matches[0]
    # Short Western text often fits several single-byte code pages equally
    # well; windows-1252 is by far the likeliest of those (WHATWG reads
    # Latin-1 as windows-1252 too), so it wins a tie.
    for match in matches:
        if (match.percent_chaos, match.percent_coherence) != (best.percent_chaos, best.percent_coherence):
            break
        if match.encoding in ("cp1252", "latin_1", "iso8859_15"):
            return str(match)
    return str(best)


def clean_text(text: str) -> str:
    """One newline convention, NFC, and nothing XML 1.0 cannot carry."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _FORBIDDEN.sub("", text)
    text = unicodedata.normalize("NFC", text)
    return text.lstrip("\ufeff")


def split_header(text: str, path: str, zone: ZoneInfo) -> tuple[dict, str]:
    """Recognise the canonical ``date`` line, a ``key: value`` block or front matter."""
    first, _, rest = text.partition("\n")
    match = _CANONICAL.match(first)
    if match:
        body_start = first[match.end():]
        return {"date": parse_date(match.group(1), path, zone)}, body_start + ("\n" + rest if rest else "")
    lines = text.split("\n")
    if lines[0].strip() == "---":
        try:
            end = lines.index("---", 1)
        except ValueError:
            end = -1
        if end > 0:
            fields = _header_fields(lines[1:end])
            if fields is not None:
                return _header_values(fields, path, zone), "\n".join(lines[end + 1:])
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    fields = _header_fields(lines[:end]) if end > 0 else None
    if fields is not None:
        return _header_values(fields, path, zone), "\n".join(lines[end + 1:])
    return {}, text


def _header_fields(lines: list[str]) -> list[tuple[str, str]] | None:
    """``key: value`` pairs, or None when these lines are not a header block."""
    fields = []
    for line in lines:
        match = _HEADER_LINE.match(line)
        if not match:
            return None
        fields.append((match.group(1).lower(), match.group(2)))
    if not any(key in HEADER_KEYS for key, _ in fields):
        return None
    return fields


def _header_values(fields: list[tuple[str, str]], path: str, zone: ZoneInfo) -> dict:
    values: dict = {}
    for key, value in fields:
        if key not in HEADER_KEYS or not value:
            continue  # unknown keys are tolerated: other tools add their own
        if key in DRAFT_MARKERS:
            if value.strip("\"'").lower() in DRAFT_MARKERS[key]:
                values["draft"] = f"{key}: {value}"
            continue  # "status: published", "draft: false": nothing to hold back
        if key == "date":
            values["date"] = parse_date(value, path, zone)
        elif key == "tags":
            tags = [t.strip() for t in value.strip("[]").split(",")]
            values["tags"] = tuple(dict.fromkeys(t.strip("\"'") for t in tags if t.strip("\"'")))
        elif key == "lang":
            values["lang"] = normalize_lang(value, path)
        elif key == "link":
            if not re.match(r"^https?://[^\s<>\"]+$", value):
                raise Rejected(path, f"link header must be an http(s) URL, not {value[:80]!r}")
            values["link"] = value
        else:
            values[key] = _one_line(value)
    return values


def parse_date(value: str, path: str, zone: ZoneInfo) -> datetime:
    """An ISO date (midnight in ``zone``) or an RFC 3339 date-time, as UTC."""
    value = value.strip()
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), time(0, 0), zone)
        else:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=zone)
        if parsed.year < 1000:
            raise ValueError("year before 1000")
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise Rejected(path, f"bad date {value[:40]!r}: {exc}") from None


def normalize_lang(value: str, path: str) -> str:
    """``en_us`` → ``en-US``, ``zh-hans`` → ``zh-Hans`` (BCP 47 casing)."""
    value = value.strip().replace("_", "-")
    if not _LANG_TAG.match(value):
        raise Rejected(path, f"lang header is not a language tag: {value[:40]!r}")
    parts = value.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4:
            out.append(part.title())
        elif len(part) == 2:
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def first_sentence(paragraph: str) -> str:
    match = _SENTENCE_END.search(paragraph)
    return paragraph[: match.end()].strip() if match else paragraph.strip()


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if not text[limit - 1].isspace() and space > limit // 2:
        cut = cut[:space]  # do not end in the middle of a word
    return cut.rstrip(" ,;:-–—") + "…"


def document_key(path: str, header_id: str | None) -> str:
    """A URL-safe key derived from the file alone, so a lost index rebuilds it.

    It names the article page and ends the entry id: readable (from the file
    name) and unique (a digest of the whole relative path).
    """
    if header_id:
        return slugify(header_id, max_length=80) or hashlib.sha256(header_id.encode()).hexdigest()[:16]
    path = unicodedata.normalize("NFC", path)  # the same name typed on any system
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    readable = slugify(stem, max_length=48, word_boundary=True) or "doc"
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{readable}-{digest}"


def entry_id(tag_authority: str, key: str) -> str:
    """The RFC 4151 tag URI every entry gets unless its header names an id of its own."""
    return f"tag:{tag_authority}:{key}"


def identity(tag_authority: str, path: str, header_id: str | None) -> tuple[str, str]:
    """(key, id) of a document seen for the first time: an ``id:`` header that is a URI
    (``urn:uuid:…``, ``tag:…``) is the id as written; any other value only names the key."""
    key = document_key(path, header_id)
    if header_id and ":" in header_id:
        return key, header_id
    return key, entry_id(tag_authority, key)


def tie_broken(moment: datetime, key: str) -> datetime:
    """A whole-second ``updated`` (a date without a time, a file system that keeps seconds)
    made distinct from its neighbours': a fraction of a second drawn from the document's key,
    so that every build, with or without the index, gives the same value. Atom readers need
    each entry's ``updated`` to differ (the W3C validator warns ``DuplicateUpdated``)."""
    if moment.microsecond:
        return moment
    fraction = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 1_000_000
    return moment.replace(microsecond=fraction)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _markdown_title(body: str) -> tuple[str | None, str]:
    first, _, rest = body.partition("\n")
    match = _MD_HEADING.match(first.strip())
    if match:
        return match.group(1), rest.lstrip("\n")
    return None, body


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt

    # Raw HTML off: whatever looks like markup in a seed stays visible text.
    return MarkdownIt("commonmark", {"html": False})


def _html_text(fragment: str) -> str:
    """Plain text of rendered Markdown, one paragraph per block."""
    import lxml.html

    if not fragment.strip():
        return ""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    blocks = [" ".join(el.text_content().split()) for el in root]
    return "\n\n".join(b for b in blocks if b)
