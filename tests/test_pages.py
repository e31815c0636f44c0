"""The site in a real browser: headless Chromium loads every page type from the running daemon.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them
and sets FEEDD_REQUIRE_BROWSER=1, so that CI fails rather than skips).
"""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import TOML, Project, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("FEEDD_REQUIRE_BROWSER"):
        raise RuntimeError("tests/test_pages.py needs chromium and chromedriver: apt-get install chromium chromium-driver")
    pytest.skip("no chromium/chromedriver here (apt-get install chromium chromium-driver)", allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")

ARTICLES = {
    "en.txt": "title: Drones over the Black Sea\ndate: 2026-03-09T10:00:00Z\n\n"
              "Naval drones patrolled the coast of Ukraine again on Monday, the navy said. Kyiv thanked its allies.\n",
    "fr.txt": " date 2026-03-08 Le président ukrainien Zelensky a parlé dimanche à Kiev. Il a évoqué la production"
              " d’armements et de drones avec ses alliés européens.\n",
    "ar.txt": "title: الطائرات المسيرة فوق البحر\ndate: 2026-03-07\n\n"
              "قالت البحرية إن الطائرات المسيرة حلقت مرة أخرى فوق الساحل يوم الاثنين، وإن المدينة بقيت هادئة طوال الليل.\n",
    "zh.txt": " date 2026-03-06 今天上午，市政府宣布将在河边修建一座新的公园，市民们对此表示欢迎。公园预计明年春天开放。\n",
    "long/en.txt": "title: " + "A remarkably long headline about municipal budgets and bridges " * 3 + "\ndate: 2026-03-05\n\n"
                   + "Supercalifragilisticexpialidocious-and-an-unbreakable-token-" * 8 + " The council met.\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    project = Project(root, TOML.replace('base_url = "http://example.test/news/"', 'base_url = "http://127.0.0.1/"'))
    for name, text in ARTICLES.items():
        project.seed(name, text)
    return project


def browser(javascript: bool = True):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def load(driver, url: str) -> list[dict]:
    """Open ``url`` and return what the console said while it loaded."""
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", message=f"{url} to load")
    return driver.get_log("browser")


def page_types(project: Project) -> dict[str, str]:
    articles = sorted(p.name for p in (project.feeds / "articles").glob("*.html"))
    arabic = next(name for name in articles if name.startswith("ar-"))
    return {
        "index": "/",
        "topic": "/topics/ukraine.html",
        "language": "/languages/fr.html",
        "language, right to left": "/languages/ar.html",
        "article": "/articles/" + next(name for name in articles if name.startswith("en-")),
        "article, right to left": "/articles/" + arabic,
        "article, Chinese": "/articles/" + next(name for name in articles if name.startswith("zh-")),
    }


def test_every_page_type_loads_without_console_errors(site, start_daemon, tmp_path):
    daemon = start_daemon(site.root)
    wait_for(lambda: (site.feeds / "languages/ar.html").is_file(), message="the pages")
    driver = browser()
    try:
        for kind, path in page_types(site).items():
            console = load(driver, daemon.url.rstrip("/") + path)
            errors = [entry["message"] for entry in console if entry["level"] in ("SEVERE", "WARNING")]
            assert not errors, f"{kind} ({path}): {errors}"
            assert driver.execute_script("return document.querySelectorAll('h1').length") == 1, kind
            assert driver.title, kind
            # Every form field is labelled, every button named.
            unlabelled = driver.execute_script(
                "return [...document.querySelectorAll('input')].filter(i => !document.querySelector(`label[for='${i.id}']`)).length")
            assert unlabelled == 0, kind
            assert driver.execute_script(
                "return [...document.querySelectorAll('button')].every(b => (b.getAttribute('aria-label') || b.textContent).trim())")
        load(driver, daemon.url)
        screenshot = tmp_path / "index.png"
        assert driver.save_screenshot(str(screenshot))
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        print(f"screenshot of the index: {screenshot}")
    finally:
        driver.quit()
    assert daemon.stop() == 0


def test_languages_directions_copy_buttons_and_a_phone_screen(site, start_daemon, tmp_path):
    daemon = start_daemon(site.root)
    wait_for(lambda: (site.feeds / "languages/ar.html").is_file(), message="the pages")
    pages = page_types(site)
    driver = browser()
    try:
        load(driver, daemon.url.rstrip("/") + pages["article, right to left"])
        assert driver.execute_script("return [document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
        load(driver, daemon.url.rstrip("/") + pages["article, Chinese"])
        assert driver.execute_script("return document.documentElement.lang") == "zh-Hans"
        # In lists, each article carries its own language and direction.
        load(driver, daemon.url)
        marks = driver.execute_script(
            "return [...document.querySelectorAll('ol.articles article')].map(a => a.lang + ' ' + a.dir)")
        assert sorted(marks) == sorted(["en ltr", "fr ltr", "ar rtl", "zh-Hans ltr", "en ltr"])
        # One click copies a feed's address (or selects it, where the clipboard is refused).
        buttons = driver.find_elements("css selector", "button.copy")
        assert len(buttons) == 3 and all(b.is_displayed() for b in buttons)
        buttons[0].click()
        status = wait_for(lambda: driver.find_element("css selector", ".subscribe .status").text,
                          message="the copy button to answer")
        assert "/all.atom" in status or "copy the selected address" in status
        # A phone: nothing wider than the screen, text at a readable size.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True})
        for kind, path in pages.items():
            load(driver, daemon.url.rstrip("/") + path)
            width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{kind} scrolls sideways on a phone: {width}"
            size = driver.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
            assert size >= 16, kind
        phone = tmp_path / "index-phone.png"
        load(driver, daemon.url)
        driver.save_screenshot(str(phone))
        print(f"screenshot of the index on a phone: {phone}")
    finally:
        driver.quit()
    assert daemon.stop() == 0


def test_without_javascript_the_addresses_are_there_and_no_dead_buttons(site, start_daemon):
    daemon = start_daemon(site.root)
    wait_for(lambda: (site.feeds / "topics/ukraine.html").is_file(), message="the pages")
    driver = browser(javascript=False)
    try:
        console = load(driver, daemon.url.rstrip("/") + "/topics/ukraine.html")
        assert not [e for e in console if e["level"] == "SEVERE"]
        assert not [b for b in driver.find_elements("css selector", "button.copy") if b.is_displayed()]
        fields = driver.find_elements("css selector", ".subscribe input")
        assert [f.get_attribute("value").rsplit("/", 1)[-1] for f in fields] == \
            ["ukraine.atom", "ukraine.rss", "ukraine.json"]
        links = [a.get_attribute("href") for a in driver.find_elements("css selector", "ol.articles h3 a")]
        assert links and all("/articles/" in href for href in links)
    finally:
        driver.quit()
    assert daemon.stop() == 0
