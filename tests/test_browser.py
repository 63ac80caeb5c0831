"""The staff page in headless Chromium (Debian's chromium + chromedriver), against a real `qa serve`."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, start_server, stop_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian chromium and chromium-driver")]


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="qa-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                 f"--user-data-dir={profile}", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, css, timeout=30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def test_ask_see_answer_open_citation_land_on_paragraph(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "/")
    box = browser.find_element(By.ID, "question")
    box.send_keys("What grade did care leavers' services receive in 2024?", Keys.ENTER)  # Enter submits
    answer = wait_for(browser, "#answer .text")
    assert answer.text == "Good"
    assert "Confidence:" in browser.find_element(By.CSS_SELECTOR, "#answer .confidence").text
    mark = wait_for(browser, ".passage mark")  # the answer highlighted inside its passage
    assert mark.text == "Good"
    citation = browser.find_element(By.CSS_SELECTOR, ".passage .cite a")
    assert "June 2024" in citation.text and citation.text.endswith("judgements table")  # the table has no number
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "answer.png"))
    browser.set_window_size(390, 844)  # phone width: nothing wider than the screen
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 400
    browser.save_screenshot(str(ARTIFACTS / "answer-phone.png"))
    browser.set_window_size(1200, 900)
    href = citation.get_attribute("href")
    citation.click()
    wait_for(browser, "article.document")
    anchor = href.split("#", 1)[1]
    assert browser.current_url.endswith("#" + anchor)
    target = browser.find_element(By.ID, anchor)
    assert "The experiences and progress of care leavers: Good" in target.text
    assert browser.execute_script("return document.querySelector(':target') === arguments[0]", target)
    browser.save_screenshot(str(ARTIFACTS / "document.png"))


def test_a_span_answer_shows_the_sentence_it_was_read_from(browser, server):
    """Asked who, the page answers with the name and shows the sentence it stands in, the name marked, both
    under the answer and inside the cited passage."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "/")
    browser.find_element(By.ID, "question").send_keys("Who led the June 2024 inspection team?", Keys.ENTER)
    assert wait_for(browser, "#answer .text").text == "Naintara Khosla"
    sentence = wait_for(browser, "#answer .in-sentence")
    assert "Lead inspector: Naintara Khosla" in sentence.text
    assert sentence.find_element(By.TAG_NAME, "mark").text == "Naintara Khosla"
    shaded = browser.find_element(By.CSS_SELECTOR, ".passage .sentence")
    assert shaded.text.startswith("Lead inspector") and shaded.find_element(By.TAG_NAME, "mark").text == "Naintara Khosla"


def test_abbreviations_in_passages_show_what_they_stand_for(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "/")
    browser.find_element(By.ID, "question").send_keys("What does the LADO do in 2024?", Keys.ENTER)
    wait_for(browser, ".passage")
    abbrs = browser.find_elements(By.CSS_SELECTOR, ".passage .body abbr")
    assert "local authority designated officer" in {a.get_attribute("title") for a in abbrs if a.text == "LADO"}
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "abbreviations.png"))
    # the passage still reads exactly as the report: the tooltips add no text
    reply = requests.post(server + "/api/ask", json={"question": "What does the LADO do in 2024?", "top_k": 5},
                          timeout=30).json()
    shown = [b.get_attribute("textContent") for b in browser.find_elements(By.CSS_SELECTOR, ".passage .body")]
    assert shown == [p["text"] for p in reply["passages"]]


def test_not_found_state_still_shows_passages(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "/")
    browser.find_element(By.ID, "question").send_keys("What overall grade did Hackney get from Ofsted in 2024?", Keys.ENTER)
    answer = wait_for(browser, "#answer.not-found .text")
    assert answer.text == "Not found in the reports"
    assert browser.find_elements(By.CSS_SELECTOR, ".passage")
    browser.save_screenshot(str(ARTIFACTS / "not-found.png"))


def test_the_reports_terms_searched_for_everyday_words_are_shown(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "/")
    browser.find_element(By.ID, "question").send_keys("Can teenagers who have nowhere to live get support?", Keys.ENTER)
    assert "homeless" in wait_for(browser, "#answer .text").text
    searched = browser.find_element(By.CSS_SELECTOR, "#answer .searched").text
    assert "“homeless” for “nowhere to live”" in searched


def test_a_year_no_report_covers_is_said_so(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "/")
    browser.find_element(By.ID, "question").send_keys("What grade did care leavers' services get in 2023?", Keys.ENTER)
    wait_for(browser, "#answer.not-found .text")
    assert "No report covers the year asked about" in browser.find_element(By.CSS_SELECTOR, "#answer .confidence").text
    assert browser.find_elements(By.CSS_SELECTOR, ".passage")


@pytest.fixture(scope="module")
def councils_page(councils_index):
    process, base = start_server(councils_index)
    yield base
    stop_server(process)


def test_many_councils_rows_a_chosen_council_and_its_grade_timeline(browser, councils_page):
    """With several councils, the page offers them; a grade question with none chosen shows a row per council,
    each linked to its judgements table; choosing one shows its grade, whose report it is, and its history as
    a timeline whose points open the paragraphs that hold the grades."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    browser.get(councils_page + "/")
    choice = Select(browser.find_element(By.ID, "authority"))
    names = [o.text for o in choice.options][1:]
    assert "Barnet" in names and "Fernleigh" in names and len(names) == 8
    browser.find_element(By.ID, "question").send_keys("What grade did the care leavers' service get?", Keys.ENTER)
    wait_for(browser, "#answer table.rows")
    rows = browser.find_elements(By.CSS_SELECTOR, "#answer table.rows tbody tr")
    assert len(rows) == 7  # Hallowby's only report, a focused visit, grades nothing
    first = rows[0].find_elements(By.TAG_NAME, "td")
    assert first[0].text == "Aldermouth" and first[4].text.endswith("judgements table")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "councils-rows.png"))
    choice.select_by_visible_text("Fernleigh")
    browser.find_element(By.ID, "ask-button").click()
    wait_for(browser, "#answer .authority")
    assert browser.find_element(By.CSS_SELECTOR, "#answer .text").text == "Requires improvement to be good"
    assert browser.find_element(By.CSS_SELECTOR, "#answer .authority").text == "From Fernleigh's report"
    points = browser.find_elements(By.CSS_SELECTOR, "#answer svg.timeline a")
    assert len(points) == 2
    browser.save_screenshot(str(ARTIFACTS / "councils-timeline.png"))
    browser.set_window_size(390, 844)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 400
    browser.set_window_size(1200, 900)
    href = points[-1].get_dom_attribute("href")
    browser.get(href if href.startswith("http") else councils_page + href)
    wait_for(browser, "article.document")
    target = browser.find_element(By.ID, href.split("#", 1)[1])
    assert "care leavers" in target.text and "Requires improvement to be good" in target.text


@pytest.fixture(scope="module")
def feedback_page(index_dir, tmp_path_factory):
    data = tmp_path_factory.mktemp("page-feedback")
    process, base = start_server(index_dir, {"QA_DATA": str(data)})
    yield base, data
    stop_server(process)


def exported(data) -> dict[str, dict]:
    import json
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "qa", "feedback", "export"], cwd=ROOT, check=True, text=True,
                         capture_output=True, env=os.environ | {"QA_DATA": str(data)}).stdout
    return {item["question"]: item for item in map(json.loads, out.splitlines())}


def test_marking_an_answer_wrong_and_picking_the_sentence_that_answers_becomes_gold(browser, feedback_page):
    """Wrong, then a sentence picked in the passages (by keyboard): `qa feedback export` holds the question with
    that sentence as its answer. 'Not in these reports' exports the question as unanswerable."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from selenium.webdriver.support.ui import WebDriverWait

    base, data = feedback_page
    browser.get(base + "/")
    question = "Which team supports young people when they leave care?"
    browser.find_element(By.ID, "question").send_keys(question, Keys.ENTER)
    wait_for(browser, "#answer .feedback")
    browser.find_element(By.XPATH, "//div[@class='feedback']/button[text()='Wrong' or text()='Pick the answer']").click()
    sentences = browser.find_elements(By.CSS_SELECTOR, ".picking .pick")
    assert len(sentences) > 3
    chosen = sentences[2]
    picked = chosen.text
    assert browser.switch_to.active_element == sentences[0]  # the first sentence has the focus: Tab moves on
    chosen.send_keys(Keys.ENTER)
    status = wait_for(browser, "#answer .feedback-status")
    WebDriverWait(browser, 20).until(lambda d: "recorded" in status.text)
    assert status.text == "Thank you: recorded."
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "feedback.png"))
    item = exported(data)[question]
    assert item["answers"] == [picked.strip()] and item["evidence"] == picked.strip()

    browser.get(base + "/")
    question = "Who looks after kids when their parents are in hospital?"
    browser.find_element(By.ID, "question").send_keys(question, Keys.ENTER)
    wait_for(browser, "#answer .feedback")
    browser.find_element(By.XPATH, "//div[@class='feedback']/button[text()='Wrong' or text()='Pick the answer']").click()
    browser.find_element(By.CSS_SELECTOR, ".feedback button.none").click()
    WebDriverWait(browser, 20).until(lambda d: "recorded" in d.find_element(By.CSS_SELECTOR, ".feedback-status").text)
    item = exported(data)[question]
    assert item["answers"] == [] and item["evidence"] == ""


@pytest.fixture(scope="module")
def markup_server(tmp_path_factory, embedder):
    """A server over a report whose text contains HTML and a script."""
    from qa.builder import build

    corpus = tmp_path_factory.mktemp("markup-corpus")
    (corpus / "markup-report.txt").write_text(
        "Inspection of Markupshire local authority children's services\n\n"
        "1. The <b>bold</b> claim about the <script>window.__pwned = 1</script> service for care leavers "
        "is written in the report as <img src=x onerror=\"window.__pwned = 2\"> plain text.\n\n"
        "2. Care leavers receive support from the Harbour Team.\n", encoding="utf-8")
    index = tmp_path_factory.mktemp("markup-index")
    build(corpus, index, embedder=embedder)
    process, base = start_server(index)
    yield base
    stop_server(process)


def test_markup_in_a_report_shows_as_text_and_runs_nothing(browser, markup_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(markup_server + "/")
    browser.find_element(By.ID, "question").send_keys("What bold claim is made about the service?", Keys.ENTER)
    wait_for(browser, ".passage")
    passages = " ".join(p.text for p in browser.find_elements(By.CSS_SELECTOR, ".passage .body"))
    assert "<script>window.__pwned = 1</script>" in passages and "<b>bold</b>" in passages
    assert not browser.find_elements(By.CSS_SELECTOR, ".passage b, .passage img, .passage script")
    assert browser.execute_script("return window.__pwned === undefined")
    browser.get(markup_server + "/documents/markup-report#pos-1")
    wait_for(browser, "article.document")
    assert "<img src=x" in browser.find_element(By.ID, "pos-1").text
    assert browser.execute_script("return window.__pwned === undefined")
