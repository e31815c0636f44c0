"""The example nginx site (deploy/nginx-feedd.conf) in front of a real feeds/: real nginx, real HTTP."""

import gzip
import os
import http.client
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import parse_feed, wait_for
from feedd.build import build

SITE = Path(__file__).resolve().parents[1] / "deploy" / "nginx-feedd.conf"
FR = " date 2026-03-08 Le président ukrainien Zelensky a parlé dimanche à Kiev devant la presse internationale."

pytestmark = pytest.mark.skipif(not shutil.which("nginx"), reason="needs nginx (.ci/run installs nginx-light)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def nginx(project, tmp_path):
    project.seed("a.txt", FR)
    build(project.config)
    (project.feeds / ".all.atom.x1y2.tmp").write_text("half a feed")  # what an atomic write leaves for a moment
    port = free_port()
    site = SITE.read_text()
    site = re.sub(r"listen \[::\]:80;\n", "", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};").replace("/srv/feedd/feeds", str(project.feeds))
    (tmp_path / "site.conf").write_text(site)
    # Workers as our own user: tmp_path is private to it (a real site's root is world-readable).
    user = "user root;" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user} daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ access_log off; client_body_temp_path {tmp_path}/body;"
        f" proxy_temp_path {tmp_path}/proxy; fastcgi_temp_path {tmp_path}/fcgi; uwsgi_temp_path {tmp_path}/uwsgi;"
        f" scgi_temp_path {tmp_path}/scgi; include {tmp_path}/site.conf; }}\n")
    check = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(["nginx", "-c", str(tmp_path / "nginx.conf")], stderr=subprocess.PIPE)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    wait_for(up, message="nginx to listen")
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_nginx_serves_feedd_output_with_the_right_headers(nginx):
    status, headers, body = get(nginx, "/all.atom")
    assert status == 200
    assert headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert headers["cache-control"] == "public, max-age=60"
    assert len(parse_feed(body).entries) == 1
    status, headers, _ = get(nginx, "/all.atom", {"If-None-Match": headers["etag"]})
    assert status == 304
    status, headers, body = get(nginx, "/topics/ukraine.rss", {"Accept-Encoding": "gzip"})
    assert headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert headers["content-encoding"] == "gzip" and "Accept-Encoding" in headers["vary"]
    assert len(parse_feed(gzip.decompress(body)).entries) == 1
    assert get(nginx, "/feeds.opml")[1]["content-type"] == "text/x-opml; charset=utf-8"
    assert get(nginx, "/")[1]["content-type"] == "text/html; charset=utf-8"
    assert get(nginx, "/favicon.ico")[1]["content-type"] == "image/x-icon"  # the same files, the same types
    assert get(nginx, "/icon.png")[1]["content-type"] == "image/png"


def test_nginx_never_serves_temporary_or_hidden_files(nginx):
    assert get(nginx, "/.all.atom.x1y2.tmp")[0] == 404
    assert get(nginx, "/topics/")[0] in (403, 404)  # no listings
    assert get(nginx, "/../feedd.toml")[0] in (400, 404)
    assert get(nginx, "/.feedd-gone.map")[0] == 404  # the map files feedd writes for nginx


def test_nginx_answers_410_for_a_retired_topic_and_301_for_a_renamed_one(nginx, project, tmp_path):
    """The same map files feedd's own server reads (tests/test_routes.py), included by deploy/."""
    from conftest import TOML

    assert get(nginx, "/topics/ukraine.atom")[0] == 200
    project.write_config(TOML.replace("[topics.ukraine]", '[topics.ukraine-war]\nformerly = ["ukraine"]')
                         .split("[topics.defense]")[0])
    build(project.config)
    assert (project.feeds / "topics/ukraine-war.atom").exists()
    subprocess.run(["nginx", "-c", str(tmp_path / "nginx.conf"), "-s", "reload"], check=True, capture_output=True)
    # [topics.defense] left feedd.toml: gone (it was published, empty: this corpus never tagged it).
    assert "/topics/defense.atom" in (project.feeds / ".feedd-gone.map").read_text().split()
    expected = {"/topics/ukraine.rss": (301, "/topics/ukraine-war.rss"),
                "/topics/ukraine/fr.atom": (301, "/topics/ukraine-war/fr.atom"),
                "/topics/ukraine-war.atom": (200, None), "/topics/defense.atom": (410, None)}

    def answers():
        return {path: (status, headers.get("location", "").split(f":{nginx}")[-1] or None)
                for path in expected for status, headers, _ in [get(nginx, path)]}

    # A reload starts new workers, then tells the old ones to finish: until they are gone, either may answer.
    master = int((tmp_path / "nginx.pid").read_text())
    wait_for(lambda: len(children(master)) == 1 and answers() == expected, timeout=20,
             message="the old nginx worker to leave and the new one to read the maps")
    assert answers() == expected
