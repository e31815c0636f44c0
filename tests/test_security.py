"""Hostile clients and hostile documents."""

import hashlib
import socket
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from conftest import TOML, Project, parse_feed
from feedd.build import build
from feedd.config import SiteConfig
from feedd.document import parse
from feedd.model import Document, Feed, Rejected
from feedd.render import render_article, render_atom, render_index, render_rss

FR = " date 2026-03-08 Le président ukrainien Zelensky a parlé dimanche à Kiev devant la presse.\n"


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0


def raw_request(port: int, data: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b"Content-Length: 0" in b"".join(chunks):
                    break
        except socket.timeout:
            pass
    return b"".join(chunks)


@pytest.fixture
def daemon(tmp_path, start_daemon):
    project = Project(tmp_path / "site", TOML)
    project.seed("a.txt", FR)
    running = start_daemon(project.root)
    yield running
    assert running.stop() == 0


def test_idle_connections_do_not_starve_a_new_client(daemon):
    idle = [socket.create_connection(("127.0.0.1", daemon.port)) for _ in range(200)]
    try:
        half = idle[:100]
        for sock in half:  # half of them never finish their request
            sock.sendall(b"GET /all.atom HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        status, _, body = daemon.get("/all.atom")
        assert status == 200 and parse_feed(body).entries
        assert time.monotonic() - started < 1.0
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize("target", [
    b"/all.atom%0d%0aSet-Cookie:%20x=1", b"/%0d%0aLocation:%20http://evil/", b"/all.atom\r\nX-Injected: 1",
])
def test_crafted_paths_cannot_inject_headers(daemon, target):
    response = raw_request(daemon.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = response.split(b"\r\n\r\n", 1)[0].lower()
    assert head.split(b" ", 2)[1].startswith(b"4"), head[:60]
    assert b"set-cookie" not in head and b"location" not in head and b"x-injected" not in head


def test_absolute_form_and_odd_targets_stay_inside(daemon):
    for target in (b"http://127.0.0.1/../feedd.toml", b"*", b"/../../../../etc/passwd", b"/%u002e%u002e/feedd.toml"):
        response = raw_request(daemon.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status_of(response) != 200, target
        assert b"[site]" not in response and b"root:" not in response


def test_oversized_requests_get_4xx_and_harm_no_one(daemon):
    line = raw_request(daemon.port, b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert 400 <= status_of(line) < 500, line[:40]
    headers = raw_request(daemon.port, b"GET /all.atom HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"b" * 100_000 + b"\r\n\r\n")
    assert 400 <= status_of(headers) < 500, headers[:40]
    many = raw_request(daemon.port, b"GET /all.atom HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n")
    assert status_of(many) in (0, 200) or 400 <= status_of(many) < 500
    assert daemon.get("/all.atom")[0] == 200


HOSTILE_TITLE = "<script>alert('title')</script><img src=x onerror=alert(1)>"


def test_nothing_in_a_document_injects_markup_anywhere(tmp_path):
    project = Project(tmp_path / "site", TOML)
    project.seed("evil.txt", f"title: {HOSTILE_TITLE}\ntags: <b>bold</b>, \"><svg onload=alert(1)>\n"
                             f"author: <i>Eve</i>\n\n<script>alert('body')</script> ]]> </content></entry> &bogus;\n")
    project.seed("evil.md", f"# {HOSTILE_TITLE}\n\n<iframe src=javascript:alert(1)></iframe> [x](javascript:alert(1))"
                            " <a href=\"javascript:alert(2)\">y</a>\n")
    build(project.config)
    for path in project.feeds.rglob("*.html"):
        tree = etree.HTML(path.read_bytes())
        # One script, ours, from a file beside the pages; nothing else that runs or renders markup.
        assert [s.get("src").rsplit("/", 1)[-1] for s in tree.xpath("//script")] == ["feedd.js"], path.name
        assert not tree.xpath("//script[text()] | //img | //svg | //iframe | //b | //i"), path.name
        assert not tree.xpath("//@*[starts-with(name(), 'on')]"), path.name
        hrefs = tree.xpath("//a/@href")
        assert not [h for h in hrefs if h.strip().lower().startswith("javascript")], path.name
    atom = "{http://www.w3.org/2005/Atom}"
    for path in [*project.feeds.rglob("*.atom"), *project.feeds.rglob("*.rss")]:
        parse_feed(path.read_bytes())
        # Raw, not through feedparser (which would sanitise): what any reader gets.
        root = etree.fromstring(path.read_bytes())
        for element in root.iter(f"{atom}content", f"{atom}summary", "description",
                                 "{http://purl.org/rss/1.0/modules/content/}encoded"):
            html = etree.HTML(f"<div>{element.text or ''}</div>")
            assert not html.xpath("//script | //img | //svg | //iframe | //b | //i | //@*[starts-with(name(), 'on')]"), \
                path.name
            assert not [h for h in html.xpath("//a/@href") if h.lower().startswith("javascript")], path.name
    titles = [e.title for e in parse_feed((project.feeds / "all.atom").read_bytes()).entries]
    assert HOSTILE_TITLE in titles  # shown as the text it is


SITE = SiteConfig(base_url="http://example.test/", tag_authority="example.test,2026")
HEADER_KEYS = st.sampled_from(["title", "date", "tags", "lang", "author", "link", "id", "x-other", "Date", "TITLE"])
HEADER = st.lists(st.tuples(HEADER_KEYS, st.text(max_size=60)), max_size=6).map(
    lambda pairs: "".join(f"{k}: {v}\n" for k, v in pairs))


def _render_everything(parsed, path):
    doc = Document(
        path=path, key="k", id="tag:example.test,2026:k", title=parsed.title,
        hash=hashlib.sha256(repr(parsed).encode()).hexdigest(),  # as in the pipeline: one per text
        published=parsed.date or datetime(2026, 1, 1, tzinfo=timezone.utc),
        updated=parsed.date or datetime(2026, 1, 1, tzinfo=timezone.utc), lang=parsed.lang or "und", topics=(),
        author=parsed.author, link=parsed.link, summary=parsed.summary, content_html=parsed.content_html,
    )
    feed = Feed("all", "all", "Everything")
    for render in (render_atom, render_rss):
        parse_feed(render(feed, [doc], SITE))
    etree.HTML(render_article(doc, SITE, {}))
    etree.HTML(render_index(SITE, [feed], [doc]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=2000), suffix=st.sampled_from([".txt", ".md"]))
def test_any_bytes_give_a_document_or_the_one_rejection(raw, suffix):
    try:
        parsed = parse(raw, "fuzz" + suffix, ZoneInfo("UTC"))
    except Rejected as rejection:
        assert rejection.reason and "\n" not in str(rejection)
        return
    _render_everything(parsed, "fuzz" + suffix)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=HEADER, body=st.text(max_size=500), canonical=st.booleans())
def test_any_header_text_gives_a_document_or_the_one_rejection(header, body, canonical):
    text = (f" date 2026-03-08 {body}" if canonical else f"{header}\n{body}")
    try:
        parsed = parse(text.encode("utf-8", "surrogatepass"), "fuzz.txt", ZoneInfo("Europe/Paris"))
    except Rejected as rejection:
        assert rejection.reason and "\n" not in str(rejection)
        return
    _render_everything(parsed, "fuzz.txt")
