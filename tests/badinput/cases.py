"""The bad-input corpus: every kind of hostile or odd seed file, made by code.

``python tests/badinput/cases.py DIR`` writes it into DIR (a seeds/ folder) to
look at by hand; the tests call :func:`write_corpus`. Each case says what must
become of it: published, rejected (with a reason naming the file), ignored
(never read: not a seed), embargoed (indexed, published later), or either of
published and rejected (input whose honest reading is a judgement call).
"""

from __future__ import annotations

import codecs
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

PUBLISHED, REJECTED, IGNORED, EMBARGOED, EITHER = "published", "rejected", "ignored", "embargoed", "either"
SIZE_LIMIT = 2_000_000  # the tests set [input] max_bytes to this, to keep the corpus small

BODY = "Le président ukrainien Zelensky a rencontré dimanche à Kiev le Premier ministre néerlandais."
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da6364f8ff"
                    "bf1e0005fe02fea7d6a4bf0000000049454e44ae426082")


@dataclass(frozen=True)
class Case:
    name: str
    path: str  # relative to seeds/
    expected: str
    content: bytes | None = None
    kind: str = "file"  # file, symlink-out, symlink-loop, folder, fifo, unreadable
    must_contain: tuple[str, ...] = field(default=())  # text the published entry must show


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


CASES: list[Case] = [
    Case("empty file", "empty.txt", REJECTED, b""),
    Case("whitespace only", "whitespace.txt", REJECTED, b"  \n\t\r\n   \n"),
    Case("image bytes", "image.txt", REJECTED, PNG),
    Case("NUL bytes", "nul.txt", REJECTED, utf8(f" date 2026-03-08 {BODY}") + b"\x00\x00\x00"),
    Case("invalid UTF-8", "invalid-utf8.txt", EITHER, utf8(" date 2026-03-08 Caf") + b"\xe9 \xff\xfe\xfd " + utf8(BODY)),
    Case("UTF-8 with BOM", "bom.txt", PUBLISHED, codecs.BOM_UTF8 + utf8(f" date 2026-03-08 {BODY}"), must_contain=("président",)),
    Case("UTF-16 LE with BOM", "utf16le.txt", PUBLISHED, codecs.BOM_UTF16_LE + f" date 2026-03-08 {BODY}".encode("utf-16-le"),
         must_contain=("néerlandais",)),
    Case("UTF-16 BE with BOM", "utf16be.txt", PUBLISHED, codecs.BOM_UTF16_BE + f" date 2026-03-08 {BODY}".encode("utf-16-be"),
         must_contain=("néerlandais",)),
    Case("cp1252 smart quotes", "cp1252.txt", PUBLISHED,
         " date 2026-03-08 \u201cWe will not give up\u201d, Zelensky said \u2013 and the minister agreed\u2026".encode("cp1252"),
         must_contain=("\u201cWe will not give up\u201d",)),
    Case("Latin-1", "latin1.txt", PUBLISHED, f" date 2026-03-08 {BODY} Ça a été très apprécié.".encode("latin-1"),
         must_contain=("apprécié",)),
    Case("CRLF newlines", "crlf.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY}\r\n\r\nSecond paragraphe.\r\n")),
    Case("lone CR newlines", "cr.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY}\r\rSecond paragraphe.\r")),
    Case("no header", "noheader.txt", PUBLISHED, utf8(BODY)),
    Case("malformed date", "baddate.txt", REJECTED, utf8(f" date 2026-13-45 {BODY}")),
    Case("date with a time zone", "tz.txt", PUBLISHED, utf8(f"title: Fuseau\ndate: 2026-03-08T23:30:00-05:00\n\n{BODY}")),
    Case("year 1900", "y1900.txt", PUBLISHED, utf8(f" date 1900-01-01 {BODY}")),
    Case("far-future date", "future.txt", EMBARGOED, utf8(f" date 9999-12-30 {BODY}")),
    Case("unknown header key", "unknownkey.txt", PUBLISHED, utf8(f"title: Clé inconnue\nmood: happy\n\n{BODY}")),
    Case("markup in the text", "markup.txt", PUBLISHED,
         utf8(f"title: <script>alert('t')</script> ]]> &bogus;\n\n{BODY} <script>alert(1)</script> ]]> </content> &bogus; &nbsp;"),
         must_contain=("<script>alert('t')</script> ]]> &bogus;",)),
    Case("characters XML forbids", "forbidden.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY}\x0b vertical \x1b[31m escape \x7f")),
    Case("lone surrogates", "surrogates.txt", EITHER,
         f" date 2026-03-08 {BODY} \ud800 \udfff".encode("utf-8", "surrogatepass")),
    Case("right-to-left text", "rtl.txt", PUBLISHED,
         utf8(" date 2026-03-08 أعلنت الحكومة اليوم عن خطة جديدة لدعم الزراعة في المناطق الريفية وتحسين إمدادات المياه."),
         must_contain=("أعلنت الحكومة",)),
    Case("emoji and combining marks", "emoji.txt", PUBLISHED,
         utf8(" date 2026-03-08 Kyiv 🇺🇦 👩‍👩‍👧 e\u0301te\u0301 Zelensky a parlé. Ça va 🎉 très bien."), must_contain=("🇺🇦",)),
    Case("zero-width characters", "zerowidth.txt", PUBLISHED,
         utf8(" date 2026-03-08 Zel\u200bensky a parlé à Ki\u200ciev, dit\u2060-il, \ufeffensuite."), must_contain=("parlé",)),
    Case("a single 1 MB line", "oneline.txt", PUBLISHED, utf8(" date 2026-03-08 " + ("Kiev défense drones " * 52_500))),
    Case("over the size limit", "huge.txt", REJECTED, utf8(" date 2026-03-08 " + "x" * (SIZE_LIMIT + 10))),
    Case("name with spaces", "with spaces in name.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY}")),
    Case("non-ASCII name", "élysée-été-Україна.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY} élysée")),
    Case("name with #", "issue#42.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY} #42")),
    Case("name with %", "100%sure%20.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY} 100%")),
    Case("name with ?", "why?.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY} why")),
    Case("name with a newline", "new\nline.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY} newline")),
    Case("250-character name", "n" * 246 + ".txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY} long name")),
    Case("hidden file", ".hidden.txt", IGNORED, utf8(BODY)),
    Case("vim swap file", ".article.txt.swp", IGNORED, utf8(BODY)),
    Case("emacs lock file", ".#article.txt", IGNORED, utf8(BODY)),
    Case("backup file", "article.txt~", IGNORED, utf8(BODY)),
    Case("partial download", "article.txt.part", IGNORED, utf8(BODY)),
    Case("LibreOffice lock", ".~lock.article.txt#", IGNORED, utf8(BODY)),
    Case("symlink out of seeds", "link-out.txt", IGNORED, kind="symlink-out"),
    Case("symlink loop", "loop.txt", IGNORED, kind="symlink-loop"),
    Case("folder named x.txt", "x.txt", IGNORED, kind="folder"),
    Case("FIFO", "pipe.txt", IGNORED, kind="fifo"),
    Case("no read permission", "noperm.txt", REJECTED, utf8(f" date 2026-03-08 {BODY}"), kind="unreadable"),
    Case("identical content 1", "same-1.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY} identique")),
    Case("identical content 2", "same-2.txt", PUBLISHED, utf8(f" date 2026-03-08 {BODY} identique")),
    Case("header only, no body", "titleonly.txt", PUBLISHED, utf8("title: Rien que le titre\ndate: 2026-03-08\n\n")),
    Case("front matter, Markdown", "front.md", PUBLISHED,
         utf8(f"---\ntitle: Front\ntags: [a, b]\n---\n# Heading\n\n{BODY} <b>raw</b>\n"), must_contain=("&lt;b&gt;raw",)),
    Case("bad link header", "badlink.txt", REJECTED, utf8(f"title: Lien\nlink: javascript:alert(1)\n\n{BODY}")),
    Case("binary with a .md name", "binary.md", REJECTED, bytes(range(256)) * 4),
]


def write_corpus(seeds: Path, outside: Path) -> list[Case]:
    """Write every case under ``seeds``; ``outside`` is a folder beside it for links."""
    seeds.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        write_case(case, seeds, outside)
    return CASES


def write_case(case: Case, seeds: Path, outside: Path) -> None:
    path = seeds / case.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if case.kind == "file" or case.kind == "unreadable":
        path.write_bytes(case.content)
        if case.kind == "unreadable":
            path.chmod(0)
    elif case.kind == "symlink-out":
        secret = outside / "secret.txt"
        secret.write_text(f" date 2026-03-08 SECRET {BODY}")
        path.symlink_to(secret)
    elif case.kind == "symlink-loop":
        path.symlink_to(path)
    elif case.kind == "folder":
        path.mkdir()
    elif case.kind == "fifo":
        os.mkfifo(path)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    write_corpus(target, target.parent / "outside")
    print(f"wrote {len(CASES)} cases into {target}")
