"""The site's face: icon and logo in every feed format, the pages, /favicon.ico and the server."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from conftest import TOML, Project
from lxml import etree
from PIL import Image
from test_build import FR, NOW

from feedd.build import build
from feedd.config import ConfigError

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "http://example.test/news/"


def image(path) -> Image.Image:
    with Image.open(path) as opened:
        opened.load()
        return opened


def near(pixel, rgb) -> bool:
    return all(abs(a - b) <= 4 for a, b in zip(pixel, rgb))


def test_every_format_and_page_shows_the_bundled_icon_and_logo(project):
    project.seed("fr.txt", FR)
    build(project.config, now=NOW)
    feeds = project.feeds
    assert image(feeds / "icon.png").size == (512, 512)
    assert image(feeds / "icon-64.png").size == (64, 64)
    assert image(feeds / "icon-144.png").size == (144, 144)
    assert image(feeds / "favicon.ico").format == "ICO"
    assert image(feeds / "logo.png").size == (400, 200)

    for name in ("all.atom", "topics/ukraine.atom"):
        root = etree.parse(str(feeds / name)).getroot()
        assert root.findtext(f"{ATOM}icon") == BASE + "icon.png"
        assert root.findtext(f"{ATOM}logo") == BASE + "logo.png"
    channel = etree.parse(str(feeds / "topics/ukraine.rss")).getroot().find("channel")
    picture = channel.find("image")
    # RSS 2.0: the image's title and link are the channel's (the W3C validator checks it), width ≤ 144.
    assert picture.findtext("url") == BASE + "icon-144.png"
    assert picture.findtext("title") == channel.findtext("title")
    assert picture.findtext("link") == channel.findtext("link")
    assert int(picture.findtext("width")) <= 144 and int(picture.findtext("height")) <= 400
    body = json.loads((feeds / "all.json").read_bytes())
    assert (body["icon"], body["favicon"]) == (BASE + "icon.png", BASE + "icon-64.png")
    for page in ("index.html", "topics/ukraine.html", next((feeds / "articles").iterdir()).relative_to(feeds)):
        html = (feeds / page).read_text(encoding="utf-8")
        assert 'href="data:,"' not in html
        assert 'favicon.ico" sizes="16x16 32x32 48x48">' in html and 'rel="apple-touch-icon"' in html


def test_a_configured_icon_and_logo_are_published_in_every_size(project):
    Image.new("RGB", (300, 100), "navy").save(project.root / "brand.jpg")
    Image.new("RGB", (1200, 300), "teal").save(project.root / "wide.png")
    project.write_config(TOML.replace("[site]\n", '[site]\nicon = "brand.jpg"\nlogo = "wide.png"\n'))
    project.seed("fr.txt", FR)
    build(project.config, now=NOW)
    icon = image(project.feeds / "icon.png").convert("RGBA")
    assert icon.size == (512, 512)
    assert near(icon.getpixel((256, 256)), (0, 0, 128))  # the navy brand (a JPEG), centred...
    assert icon.getpixel((256, 5))[3] == 0  # ...on a transparent square
    assert image(project.feeds / "logo.png").size == (400, 100)  # within 400×200, its shape kept
    favicon = image(project.feeds / "favicon.ico")
    assert near(favicon.convert("RGBA").getpixel((favicon.width // 2, favicon.height // 2)), (0, 0, 128))
    outputs = project.outputs()
    build(project.config, now=NOW)  # deterministic: a rebuild changes no byte
    assert project.outputs() == outputs


@pytest.mark.parametrize("value, reason", [
    ("missing.png", "site.icon 'missing.png': no such file"),
    ("feedd.toml", "site.icon 'feedd.toml': not an image Pillow can read"),
    ("../outside.png", "site.icon must be a path under the project"),
])
def test_a_bad_icon_is_a_one_line_error_naming_the_key(tmp_path, value, reason):
    project = Project(tmp_path / "site", TOML.replace("[site]\n", f'[site]\nicon = "{value}"\n'))
    Image.new("RGB", (10, 10)).save(tmp_path / "outside.png")
    with pytest.raises(ConfigError, match=reason.replace("(", r"\(")):
        project.config
    run = subprocess.run([sys.executable, "-m", "feedd", "build", "--root", str(project.root)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1 and reason in run.stderr


def test_the_daemon_serves_a_real_favicon(project, start_daemon):
    project.seed("fr.txt", FR)
    daemon = start_daemon(project.root)
    status, headers, body = daemon.get("/favicon.ico")
    assert status == 200 and headers["content-type"] == "image/x-icon" and "content-encoding" not in headers
    assert Image.open(io.BytesIO(body)).format == "ICO"
    status, headers, body = daemon.get("/icon-64.png", headers={"Accept-Encoding": "gzip"})
    assert (status, headers["content-type"]) == (200, "image/png") and "content-encoding" not in headers
    assert daemon.stop() == 0
