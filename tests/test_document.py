from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from feedd.document import decode, document_key, parse, shorten
from feedd.model import Rejected

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")


def test_canonical_header_body_on_the_same_line():
    doc = parse(" date 2026-03-08 Le président a parlé. Ensuite il est parti.\n\nDeuxième paragraphe.".encode(), "a.txt", UTC)
    assert doc.date == datetime(2026, 3, 8, tzinfo=timezone.utc)
    assert doc.title == "Le président a parlé."
    assert doc.content_html == "<p>Le président a parlé. Ensuite il est parti.</p>\n<p>Deuxième paragraphe.</p>"


def test_canonical_header_from_the_shared_sample(shared_sample):
    doc = parse(shared_sample.read_bytes(), "sample.txt", UTC)
    assert doc.date == datetime(2026, 3, 8, tzinfo=timezone.utc)
    assert doc.title.startswith("Le président ukrainien Volodymyr Zelensky")
    assert len(doc.title) <= 120 and doc.title.endswith("…")
    assert doc.content_html.count("<p>") == 6
    assert not doc.text.startswith("date")


@pytest.mark.parametrize("text, expected", [
    ("date 2026-03-08 Body.", datetime(2026, 3, 7, 23, tzinfo=timezone.utc)),
    ("   date 2026-03-08 Body.", datetime(2026, 3, 7, 23, tzinfo=timezone.utc)),
    ("date 2026-03-08\nBody on the next line.", datetime(2026, 3, 7, 23, tzinfo=timezone.utc)),
    ("date 2026-03-08T10:00:00Z Body.", datetime(2026, 3, 8, 10, tzinfo=timezone.utc)),
    ("title: T\ndate: 2026-07-01\n\nBody.", datetime(2026, 6, 30, 22, tzinfo=timezone.utc)),
    ("title: T\ndate: 2026-07-01T12:00:00+02:00\n\nBody.", datetime(2026, 7, 1, 10, tzinfo=timezone.utc)),
    ("title: T\ndate: 2026-07-01 12:00\n\nBody.", datetime(2026, 7, 1, 10, tzinfo=timezone.utc)),
    ("---\ntitle: T\ndate: 2026-01-02\n---\nBody.", datetime(2026, 1, 1, 23, tzinfo=timezone.utc)),
    ("No header at all. Just text.", None),
    ("Note: a colon in the first line is not a header.\n\nBody.", None),
    ("Dated 2026-03-08 is not the canonical form.", None),
])
def test_header_forms_and_dates(text, expected):
    # Dates without a zone take the configured one (Paris here), on every build.
    assert parse(text.encode(), "a.txt", PARIS).date == expected


def test_header_block_fields():
    raw = (
        "Title:  A   headline \nDate: 2026-03-08\ntags: Défense, Ukraine , ,Défense\nlang: en_us\n"
        "author: Jane Doe\nlink: https://example.org/a?b=1\nid: my-story\nx-custom: kept out\n\nThe body."
    ).encode()
    doc = parse(raw, "a.txt", UTC)
    assert (doc.title, doc.lang, doc.author, doc.link, doc.id) == (
        "A headline", "en-US", "Jane Doe", "https://example.org/a?b=1", "my-story")
    assert doc.tags == ("Défense", "Ukraine")
    assert doc.text == "The body."


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty document"),
    (b" \n\t \r\n", "empty document"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
    (b"text\x00with a NUL", "binary"),
    (b"date 2026-13-45 Body.", "bad date '2026-13-45'"),
    (b"title: T\ndate: yesterday\n\nBody.", "bad date 'yesterday'"),
    (b"title: T\nlink: javascript:alert(1)\n\nBody.", "link header must be an http(s) URL"),
    (b"title: T\nlang: not a language\n\nBody.", "lang header"),
    (b"\xff\xfe" + "é".encode("utf-16-le") + b"\x00\xd8", "invalid UTF-16"),
    (bytes(range(1, 32)) * 20, "binary"),
])
def test_rejections_name_the_file_and_the_reason(raw, reason):
    with pytest.raises(Rejected) as caught:
        parse(raw, "dir/bad file.txt", UTC)
    assert reason in caught.value.reason
    message = str(caught.value)
    assert message.startswith("dir/bad file.txt: ") and "\n" not in message


@pytest.mark.parametrize("raw, text", [
    ("Grüße aus Köln".encode("utf-8"), "Grüße aus Köln"),
    (b"\xef\xbb\xbf" + "Grüße aus Köln".encode("utf-8"), "Grüße aus Köln"),
    (b"\xff\xfe" + "Grüße aus Köln".encode("utf-16-le"), "Grüße aus Köln"),
    (b"\xfe\xff" + "Grüße aus Köln".encode("utf-16-be"), "Grüße aus Köln"),
    ("Le député a dit « non » à la réforme des retraites, déclarant qu’elle était injuste.".encode("cp1252"),
     "Le député a dit « non » à la réforme des retraites, déclarant qu’elle était injuste."),
    ("Das Mädchen aß süße Äpfel, während es über die Brücke ging und fröhlich lächelte.".encode("latin-1"),
     "Das Mädchen aß süße Äpfel, während es über die Brücke ging und fröhlich lächelte."),
    ("\u201cSmart quotes\u201d \u2013 and an em dash \u2014 written by Word in the windows-1252 code page.".encode("cp1252"),
     "\u201cSmart quotes\u201d \u2013 and an em dash \u2014 written by Word in the windows-1252 code page."),
])
def test_encodings(raw, text):
    assert decode(raw, "a.txt") == text


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_newline_conventions_give_the_same_document(newline):
    text = newline.join(["title: T", "", "First line", "same paragraph.", "", "Second."])
    doc = parse(text.encode(), "a.txt", UTC)
    assert doc.content_html == "<p>First line\nsame paragraph.</p>\n<p>Second.</p>"


def test_characters_xml_forbids_are_removed():
    doc = parse("title: A\x0bB\x1b[0m\n\nBody\x01 text\x7f\ufffe with \x85 controls.".encode(), "a.txt", UTC)
    assert doc.title == "AB[0m"
    assert doc.text == "Body text with  controls."


def test_lone_surrogates_never_reach_the_output():
    raw = "title: T\n\nBefore \ud800 after, and more text to decode.".encode("utf-8", "surrogatepass")
    try:
        doc = parse(raw, "a.txt", UTC)
    except Rejected:
        return
    assert all(not 0xD800 <= ord(c) <= 0xDFFF for c in doc.text + doc.title + doc.content_html)


def test_markup_stays_text():
    doc = parse(b"title: <script>alert(1)</script>\n\nA ]]> B </content> &bogus; <b>bold</b>", "a.txt", UTC)
    assert doc.title == "<script>alert(1)</script>"  # escaping is the renderer's job
    assert "<b>" not in doc.content_html and "&lt;b&gt;bold&lt;/b&gt;" in doc.content_html
    assert "&amp;bogus;" in doc.content_html and "]]&gt;" in doc.content_html


def test_markdown_is_rendered_without_raw_html():
    raw = b"# The title\n\nSome **bold** and <script>x()</script> and [a link](javascript:alert(1)).\n\nSecond."
    doc = parse(raw, "a.md", UTC)
    assert doc.title == "The title"
    assert "<strong>bold</strong>" in doc.content_html
    assert "<script>" not in doc.content_html and 'href="javascript' not in doc.content_html
    assert doc.summary.startswith("Some bold and <script>x()</script>")


@pytest.mark.parametrize("text, title", [
    ("Short one. Second sentence.", "Short one."),
    ("Question? Answer.", "Question?"),
    ("«Citation.» Suite.", "«Citation.»"),
    ("北京市政府周五公布了计划。第二句。", "北京市政府周五公布了计划。"),
    ("word " * 40, ("word " * 24).strip() + "…"),
    ("x" * 200, "x" * 119 + "…"),
])
def test_title_is_the_first_sentence_cut_at_a_word(text, title):
    doc = parse(text.encode(), "a.txt", UTC)
    assert doc.title == title
    assert len(doc.title) <= 120


def test_shorten_never_exceeds_the_limit():
    for n in range(1, 300, 7):
        assert len(shorten("ab cd " * n, 120)) <= 120


def test_document_key_is_derived_from_the_path_only():
    assert document_key("ukraine/a.txt", None) == document_key("ukraine/a.txt", None)
    assert document_key("ukraine/a.txt", None) != document_key("world/a.txt", None)
    assert document_key("Défense été.txt", None).startswith("defense-ete-")
    assert document_key("a.txt", "My Story") == "my-story"
    # The same name typed on a system that decomposes accents gets the same key.
    assert document_key("e\u0301te\u0301.txt", None) == document_key("\u00e9t\u00e9.txt", None)


def test_long_fields_are_cut_at_a_word_boundary_and_said_so():
    from feedd.document import AUTHOR_MAX, TAG_MAX, TITLE_MAX

    title = " ".join(f"word{n}" for n in range(800))  # ~6,000 characters
    author = "Maria " * 100
    raw = f"title: {title}\nauthor: {author}\ntags: {'long ' * 40}, short\n\nThe body.\n".encode()
    parsed = parse(raw, "long.txt", ZoneInfo("UTC"))
    assert len(parsed.title) <= TITLE_MAX and parsed.title.endswith("…")
    assert parsed.title[:-1].split(" ") == [f"word{n}" for n in range(len(parsed.title[:-1].split(" ")))]
    assert len(parsed.author) <= AUTHOR_MAX and parsed.author.endswith("…") and "Maria" in parsed.author
    assert [len(tag) <= TAG_MAX for tag in parsed.tags] == [True, True] and parsed.tags[1] == "short"
    assert [note.split(" ")[0] for note in parsed.shortened] == ["title", "author", "tag"]
    assert f"(it had {len(title):,})" in parsed.shortened[0]
    # A derived title is bounded the same way; short fields are left alone and nothing is said.
    derived = parse((" date 2026-03-01 " + " ".join(["mot"] * 200) + ".").encode(), "d.txt", ZoneInfo("UTC"))
    assert len(derived.title) <= TITLE_MAX and derived.shortened[0].startswith("title cut to")
    assert parse(b"title: Short\nauthor: Ann\n\nBody.", "s.txt", ZoneInfo("UTC")).shortened == ()
