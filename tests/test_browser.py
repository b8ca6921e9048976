"""The web page in a real browser (Debian's chromium and chromium-driver, driven by selenium): ask on
the page, open a citation's document view and find the quote highlighted, check that markup in
a document never runs, that the page works without JavaScript and at 200 % zoom, and save a
screenshot (eval/out/web-page.png; `make screenshot` copies it to docs/web-page.png)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed: pip install 'pdqa[server]'")
pytest.importorskip("selenium", reason="selenium is not installed: pip install 'pdqa[test]'")

from server_helpers import EVIL_SCRIPT, build_reusing, make_server_corpus, running  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
REPO = Path(__file__).resolve().parent.parent
WAIT_S = 60

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="the browser tests need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver",
)


def _driver(javascript: bool = True, width: int = 1200, height: int = 1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync",
                     "--disable-component-update", "--disable-default-apps", "--lang=en-GB", "--force-color-profile=srgb",
                     "--hide-scrollbars"):
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def documents_settings(built_settings, tmp_path_factory):
    """The test documents, answered whenever a passage can be quoted (the page shows sources)."""
    root = tmp_path_factory.mktemp("browser-documents")
    settings = build_reusing(built_settings, make_server_corpus(root / "corpus"), root / "index")
    return settings.changed(answer={"min_confidence": 0.0})


@pytest.fixture(scope="module")
def documents_qa(documents_settings):
    from pdqa.qa import QA

    qa = QA(documents_settings)
    yield qa
    qa.close()


@pytest.fixture(scope="module")
def site(documents_settings):
    from pdqa.server.app import create_app

    with running(create_app(documents_settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    driver = _driver()
    yield driver
    driver.quit()


def _wait(driver, css: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(shown.presence_of_element_located((By.CSS_SELECTOR, css)))


def _ask_on_the_page(driver, url: str, question: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(url + "/")
    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(question, Keys.ENTER)  # the keyboard alone
    return _wait(driver, "#result section.answer")


def _text(element) -> str:
    return element.get_property("textContent")


@pytest.mark.parametrize("question", [
    "On which morning did each pilot hold a community meeting?",
    "How long is the fixed term contract initially?",
])
def test_the_highlighted_text_is_the_citations_quote(browser, site, documents_qa, question):
    from selenium.webdriver.common.by import By

    expected = documents_qa.ask(question).citations[0]
    _ask_on_the_page(browser, site, question)
    assert browser.execute_script("return document.documentElement.dataset.enhanced") == "true"  # the nonce script ran
    assert "/?q=" in browser.current_url  # answered by the script, not by a form post
    first = browser.find_element(By.CSS_SELECTOR, "#source-1")
    assert _text(first.find_element(By.CSS_SELECTOR, "blockquote.quote")) == expected.quote
    first.find_element(By.CSS_SELECTOR, "a.open").click()
    mark = _wait(browser, "mark#quote")
    assert _text(mark) == expected.quote
    assert browser.find_elements(By.CSS_SELECTOR, "mark") == [mark]
    if expected.section:
        assert expected.section in browser.find_element(By.CSS_SELECTOR, ".located").text
    paragraph = mark.find_element(By.XPATH, "..")
    assert "holds-quote" in paragraph.get_attribute("class")
    assert bool(browser.find_elements(By.CSS_SELECTOR, "figure.pdf-page")) == (expected.page is not None)


def _known(qa, path: str, sentence: str) -> str:
    text = qa.index.text_of(path)
    start = text.index(sentence)
    return f"?start={start}&end={start + len(sentence)}"


def test_a_quote_is_drawn_on_its_pdf_page(browser, site, documents_qa):
    from selenium.webdriver.common.by import By

    import documents as docs

    browser.get(site + "/documents/report" + _known(documents_qa, "report.pdf", docs.CONTRACT) + "#page-quote")
    assert _text(_wait(browser, "mark#quote")) == docs.CONTRACT
    boxes = browser.find_elements(By.CSS_SELECTOR, "figure.pdf-page rect.highlight")
    assert boxes and all(float(b.get_attribute("width")) > 0 for b in boxes)
    image = browser.find_element(By.CSS_SELECTOR, "figure.pdf-page image").get_attribute("href")
    assert image.endswith("/v1/documents/report/pages/3.png")
    loaded = browser.execute_async_script(  # the callback is the last argument
        "const done = arguments[arguments.length - 1]; const img = new Image();"
        "img.onload = () => done(img.naturalWidth); img.onerror = () => done(0); img.src = arguments[0];", image)
    assert loaded > 0
    assert docs.SECTIONS[2] in browser.find_element(By.CSS_SELECTOR, ".located").text


def test_a_quote_is_marked_in_its_html_paragraph(browser, site, documents_qa):
    from selenium.webdriver.common.by import By

    import documents as docs

    browser.get(site + "/documents/page" + _known(documents_qa, "page.html", docs.MEETINGS) + "#quote")
    mark = _wait(browser, "mark#quote")
    assert _text(mark) == docs.MEETINGS and "holds-quote" in mark.find_element(By.XPATH, "..").get_attribute("class")
    assert docs.HTML_SECTION in browser.find_element(By.CSS_SELECTOR, ".located").text
    assert browser.find_element(By.CSS_SELECTOR, "h2.doc-heading, h3.doc-heading").text


def test_markup_in_documents_never_runs(browser, site, documents_qa):
    from selenium.webdriver.common.by import By

    text = documents_qa.index.text_of("handover.md")
    start = text.index(EVIL_SCRIPT)
    for page in (f"/documents/handover?start={start}&end={start + len(EVIL_SCRIPT)}#quote", "/documents/rota",
                 "/documents/handover", "/?q=What+did+staff+type+into+the+rota+by+mistake%3F"):
        browser.get(site + page)
        _wait(browser, "main")
        assert browser.execute_script("return typeof window.__pdqa_pwned") == "undefined", page
        assert browser.execute_script("return document.documentElement.dataset.enhanced") == "true"
    browser.get(site + f"/documents/handover?start={start}&end={start + len(EVIL_SCRIPT)}")
    assert _text(_wait(browser, "mark#quote")) == EVIL_SCRIPT  # shown as text
    assert not browser.find_elements(By.CSS_SELECTOR, "main script, main img")


def test_the_form_works_without_javascript(site, documents_qa):
    from selenium.webdriver.common.by import By

    question = "How long is the fixed term contract initially?"
    driver = _driver(javascript=False)
    try:
        driver.get(site + "/")
        driver.find_element(By.ID, "q").send_keys(question)
        driver.find_element(By.CSS_SELECTOR, "form#ask button[type=submit]").click()
        answer = _wait(driver, "section.answer")
        assert driver.current_url.rstrip("/") == site  # a plain form post to /
        assert _text(answer.find_element(By.CSS_SELECTOR, "blockquote.quote")) == documents_qa.ask(question).citations[0].quote
        removed_toggle = driver.find_elements(By.CSS_SELECTOR, "details.removed")
        assert removed_toggle == []  # extractive answers remove nothing
    finally:
        driver.quit()


def test_readable_at_200_percent_zoom_and_by_keyboard(browser, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    # 200 % zoom of a 1200-pixel window: a 600-pixel-wide layout drawn with twice the pixels.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 600, "height": 900, "deviceScaleFactor": 2, "mobile": False})
    try:
        _ask_on_the_page(browser, site, "How long is the fixed term contract initially?")
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        browser.find_element(By.CSS_SELECTOR, "#source-1 a.open").click()
        _wait(browser, "mark#quote")
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        size = browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 16
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.get(site + "/")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("class") == "skip"
    for _ in range(6):
        if browser.switch_to.active_element.get_attribute("id") == "q":
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "q"
    label = browser.find_element(By.CSS_SELECTOR, "label[for=q]")
    assert label.text.strip()


def test_llm_sentences_stream_in_and_removed_ones_are_behind_a_toggle(built_settings, scripted):
    """With an LLM (a scripted one), verified sentences appear as they are verified, the ones QA's own
    stream gives; removed sentences and their reasons are behind a toggle, opened from the keyboard."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from pdqa.qa import QA, Sentence
    from pdqa.server.app import create_app
    from pdqa.text import strip_markers

    reply = ["The ‘Innovation in Action‘ report, written by Dr Lisa Wilson and Dr Rex Haigh, presents a summary of ",
             "the findings of the review of National Community Personality Disorder Pilots commissioned by the "
             "Department of Health in 2004. [1]", " The pilots were run on the Moon by astronauts. [1]"]
    question = "Who wrote the Innovation in Action report?"
    settings = built_settings.changed(llm={"backend": "scripted"})
    scripted(list(reply))
    with QA(settings) as qa:
        stream = list(qa.ask_stream(question))
    expected_sentences = [strip_markers(e.text) for e in stream if isinstance(e, Sentence)]
    expected = stream[-1].answer
    scripted(list(reply))
    driver = _driver()
    try:
        with running(create_app(settings)) as url:
            driver.get(url + "/")
            driver.execute_script(  # note each sentence the moment it is inserted, before the whole answer
                "window.__streamed = []; new MutationObserver(records => records.forEach(r => r.addedNodes.forEach("
                "n => n.nodeType === 1 && window.__streamed.push(n.textContent)))).observe("
                "document.getElementById('live'), {childList: true});")
            driver.find_element(By.ID, "q").send_keys(question, Keys.ENTER)
            answer = _wait(driver, "#result section.answer")
            streamed = [strip_markers(text) for text in driver.execute_script("return window.__streamed")]
            assert streamed == expected_sentences
            assert not any("Moon" in text for text in streamed)
            assert answer.get_attribute("data-mode") == expected.mode
            if expected.removed:
                toggle = answer.find_element(By.CSS_SELECTOR, "details.removed")
                assert toggle.get_attribute("open") is None
                toggle.find_element(By.TAG_NAME, "summary").send_keys(Keys.ENTER)
                assert toggle.get_attribute("open") is not None
                listed = toggle.find_element(By.TAG_NAME, "ul").text
                assert all(strip_markers(claim.sentence)[:40] in strip_markers(listed) for claim in expected.removed)
                assert "Removed:" in listed
    finally:
        driver.quit()


def test_screenshot_of_an_answer(built_settings):
    """An answer over the bundled report, saved to eval/out/web-page.png.

    The test leaves the checkout clean: the docs' copy (docs/web-page.png) changes only when a
    maintainer asks for it with `make screenshot`.
    """
    from pdqa.server.app import create_app

    driver = _driver(width=1100, height=1250)
    try:
        with running(create_app(built_settings)) as url:
            _ask_on_the_page(driver, url, "How long is the initial contract for the Joint Head post?")
            _wait(driver, "#source-1")
            png = driver.get_screenshot_as_png()
    finally:
        driver.quit()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (REPO / "eval" / "out").mkdir(parents=True, exist_ok=True)
    (REPO / "eval" / "out" / "web-page.png").write_bytes(png)
