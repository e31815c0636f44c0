"""The HTTP server on a real socket (port 0), over a real folder."""

import http.client
import os
import socket
import threading
import time
from email.utils import parsedate_to_datetime

import pytest

from conftest import wait_for
from feedd.serve import FeedServer, accepts_gzip, resolve


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "feeds"
    (root / "topics").mkdir(parents=True)
    (root / "all.atom").write_bytes(b"<feed xmlns='http://www.w3.org/2005/Atom'/>" * 20)
    (root / "index.html").write_bytes(b"<!doctype html><title>x</title>")
    (root / "topics" / "a.rss").write_bytes(b"<rss version='2.0'/>")
    (root / ".all.atom.123.tmp").write_bytes(b"half")
    server = FeedServer(root, "127.0.0.1", 0, health=lambda: {"documents": 3})
    server.start()
    yield server, root
    server.stop()


def get(server, path, method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("raw, expected", [
    ("/", "index.html"), ("/all.atom", "all.atom"), ("/topics/a.rss", "topics/a.rss"), ("/all.atom?x=1", "all.atom"),
    ("/%61ll.atom", "all.atom"),
    ("/../x", None), ("/topics/../all.atom", None), ("/./all.atom", None), ("//all.atom", None),
    ("/topics//a.rss", None), ("/topics/", None), ("/%2e%2e/x", None), ("/..%2fx", None), ("/x%00.atom", None),
    ("/..\\x", None), ("/%5cx", None), ("/%c0%ae%c0%ae/x", None), ("/.all.atom.123.tmp", None), ("all.atom", None),
])
def test_resolve_refuses_rather_than_normalises(tmp_path, raw, expected):
    root = os.path.realpath(tmp_path)
    result = resolve(root, raw)
    assert result == (os.path.join(root, expected) if expected else None)


def test_resolve_refuses_symlinks_out(tmp_path):
    root = tmp_path / "feeds"
    root.mkdir()
    (root / "out.atom").symlink_to("/etc/hostname")
    (root / "in.atom").symlink_to(root / "x.atom")
    real = os.path.realpath(root)
    assert resolve(real, "/out.atom") is None
    assert resolve(real, "/in.atom") == os.path.join(real, "x.atom")


@pytest.mark.parametrize("header, expected", [
    ("gzip", True), ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.8", True), ("gzip;q=0", False),
    ("identity", False), ("", False), ("*", True), ("GZIP", True), ("gzip;q=bogus", False),
])
def test_accepts_gzip(header, expected):
    assert accepts_gzip(header) is expected


def test_hidden_files_and_folders_are_not_served(served):
    server, _ = served
    assert get(server, "/.all.atom.123.tmp")[0] == 404
    assert get(server, "/topics")[0] == 404
    assert get(server, "/missing.atom")[0] == 404


def test_a_rewritten_file_is_served_new_at_once(served):
    server, root = served
    first = get(server, "/topics/a.rss")[2]
    tmp = root / "topics" / ".a.rss.tmp"
    tmp.write_bytes(b"<rss version='2.0'><channel/></rss>")
    os.replace(tmp, root / "topics" / "a.rss")
    assert get(server, "/topics/a.rss")[2] == b"<rss version='2.0'><channel/></rss>" != first


def test_healthz_is_json(served):
    server, _ = served
    status, headers, body = get(server, "/healthz")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert body == b'{"documents": 3}\n'


def test_oversized_request_lines_and_headers_are_refused(served):
    server, _ = served
    assert get(server, "/" + "a" * 20000)[0] in (400, 414)
    assert get(server, "/all.atom", headers={"X-Big": "b" * 20000})[0] in (400, 431)
    assert get(server, "/all.atom")[0] == 200


def test_hundreds_of_keep_alive_connections_and_a_stalled_client(served):
    server, _ = served
    stalled = socket.create_connection(("127.0.0.1", server.port))
    stalled.sendall(b"GET /all.atom HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
    connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=5) for _ in range(300)]
    try:
        for round_ in range(2):  # the second round reuses every connection
            for conn in connections:
                conn.request("GET", "/all.atom")
                response = conn.getresponse()
                assert response.status == 200 and response.read()
                assert response.getheader("Connection", "keep-alive").lower() != "close"
        started = time.monotonic()
        assert get(server, "/index.html")[0] == 200
        assert time.monotonic() - started < 1.0
    finally:
        for conn in connections:
            conn.close()
        stalled.close()


def test_concurrent_clients_in_threads(served):
    server, _ = served
    failures = []

    def client():
        try:
            for _ in range(20):
                if get(server, "/all.atom", headers={"Accept-Encoding": "gzip"})[0] != 200:
                    failures.append("status")
        except OSError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_a_feed_rewritten_within_one_second_is_never_not_modified(served):
    """Last-Modified has one-second resolution: a client holding the first of two versions written
    within the same second, revalidating with If-Modified-Since alone, must get the second."""
    from feedd.publish import Writer

    server, root = served

    def publish(body: bytes) -> None:
        writer = Writer(root)
        writer.write("all.atom", body)
        writer.flush()

    for attempt in range(5):
        publish(f"<feed>first {attempt}</feed>".encode())
        status, headers, body = get(server, "/all.atom")
        assert status == 200 and body == f"<feed>first {attempt}</feed>".encode()
        # Any date given is the end of a second already over (it may be the second the Date
        # names: a file written at 10.5 s is dated 11 s, given from 11.0 s): no later rewrite can share it.
        if "Last-Modified" in headers:
            assert parsedate_to_datetime(headers["Last-Modified"]) <= parsedate_to_datetime(headers["Date"])
        publish(f"<feed>second {attempt}</feed>".encode())  # at once: most often within the same second
        revalidate = {"If-Modified-Since": headers.get("Last-Modified", headers["Date"])}
        # A client that takes the Date as its copy's date (as some do without Last-Modified) is safe too.
        status, _, body = get(server, "/all.atom", headers=revalidate)
        assert status == 200 and body == f"<feed>second {attempt}</feed>".encode()
    # Once the second is over, the date is given and revalidation answers 304.
    modified = (root / "all.atom").stat().st_mtime
    wait_for(lambda: time.time() >= int(modified) + 1, timeout=5, message="the rewrite's second to pass")
    latest = get(server, "/all.atom")[1]["Last-Modified"]
    assert get(server, "/all.atom", headers={"If-Modified-Since": latest})[0] == 304
