"""End to end in a real headless Chromium (Debian's package, driven by Playwright): start
serve.py on a free port, play one round by clicking, see the reveal and the score, save a
screenshot; play until every abstract is seen and see the end said, not an error. Every page runs under the app's Content-Security-Policy (no inline or eval'd script):
a script or style it blocks is a console error, which fails the test; the tests wait with
Playwright's ``expect``, which needs no eval in the page. Skipped only where /usr/bin/chromium is missing and PATENTGEN_REQUIRE_BROWSER is not
set; CI installs Chromium and sets it, so there the test cannot be skipped."""

import os
import re
from pathlib import Path

import pytest

from conftest import start_server

CHROMIUM = Path(os.environ.get("PATENTGEN_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists() and not os.environ.get("PATENTGEN_REQUIRE_BROWSER"):
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def server(tiny_run, corpus_csv, tmp_path):
    proc, url = start_server(tiny_run, corpus_csv, tmp_path / "g.sqlite3")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_play_one_round_by_clicking(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shot = tmp_path / "round.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)  # Playwright gives it a fresh temporary profile
        try:
            page = browser.new_page()
            page.goto(server + "/")
            page.wait_for_selector("#option-3")
            assert page.text_content("#score") == "Score: 0 of 0"
            assert page.is_hidden("#reveal")
            page.click("#option-2")
            page.wait_for_selector("#reveal:not([hidden])")
            verdict = page.text_content("#verdict")
            assert verdict.startswith("Right!") or verdict.startswith("Wrong: the human text was option")
            assert page.text_content("#score") == f"Score: {int(verdict.startswith('Right!'))} of 1"
            labels = page.locator(".option .label").all_text_contents()
            assert labels.count("human") == 1 and sum(label.startswith("model, diversity") for label in labels) == 2
            expect(page.locator("#stats")).to_contain_text("1 guess counted, by 1 player on 1 distinct round")
            expect(page.locator("#stats")).to_contain_text("You: found the human text in")
            assert "left for you after this one" in page.text_content("#left")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    data = shot.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_keyboard_shortcuts_and_a_score_that_survives_a_reload(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    errors = console_errors(page)
    page.goto(server + "/")
    page.wait_for_selector("#option-3")
    expect(page.locator("#stats")).to_contain_text("No rounds played yet")
    page.keyboard.press("x")  # not a shortcut: nothing happens
    page.keyboard.press("3")
    page.wait_for_selector("#reveal:not([hidden])")
    assert page.locator(".option.chosen").get_attribute("id") == "option-3"
    first = page.text_content("#score")
    assert first in ("Score: 0 of 1", "Score: 1 of 1")
    page.keyboard.press("2")  # the round is answered: no second guess
    page.keyboard.press("n")
    page.wait_for_selector("#reveal[hidden]", state="attached")
    page.wait_for_selector("#option-3")
    left = page.text_content("#left")
    page.reload()
    page.wait_for_selector("#option-3")
    assert page.text_content("#score") == first  # kept in this browser
    assert page.text_content("#left") != left  # the same player after a reload: a third abstract, not one seen before
    page.click("#reset")
    assert page.text_content("#score") == "Score: 0 of 0" and page.is_hidden("#reset")
    assert not errors


def test_a_player_who_has_seen_every_abstract_is_told_so(server, browser):
    page = browser.new_page()
    errors = console_errors(page)
    page.goto(server + "/")
    for _ in range(100):
        page.wait_for_selector("#option-3")
        page.keyboard.press("1")
        page.wait_for_selector("#reveal:not([hidden])")
        if page.is_hidden("#next"):
            break
        page.keyboard.press("n")
    assert "You have now seen every abstract of the game" in page.text_content("#verdict")
    assert page.text_content("#left") == "That was the last abstract you had not seen."
    page.keyboard.press("n")  # nothing more is dealt
    assert page.locator("#option-3").count() == 1 and not errors
    page.reload()  # the server says so too, and the page shows it as the end, not as an error
    page.wait_for_selector("#seed:not(.loading)")
    assert page.text_content("#seed").startswith("You have played all") and page.text_content("#error") == ""


def test_generate_page_shows_no_empty_box_a_busy_state_and_no_stale_text(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    errors = console_errors(page)
    page.goto(server + "/generate")
    assert page.is_hidden("#output") and page.is_hidden("#error")
    pending = []
    page.route("**/api/generate", lambda route: pending.append(route))  # held until checked
    page.click("#go")
    expect(page.locator("#status")).to_have_text("Generating")
    assert page.is_disabled("#go") and page.get_attribute("#output", "aria-busy") == "true"
    pending[0].continue_()
    expect(page.locator("#output")).to_have_text(re.compile(r"\S"))
    assert page.text_content("#status") == "" and page.is_enabled("#go")
    for bad in ("", "0", "2.5", "500"):
        page.fill("#words", bad)
        page.click("#go")
        assert "Words must be a whole number from 1 to 200" in page.text_content("#error")
        assert page.text_content("#output") == "" and page.is_hidden("#output")
    assert not errors


def test_api_docs_page_renders_and_runs_a_request_under_its_policy(server, browser):
    page = browser.new_page()
    errors = console_errors(page)  # a script or style the policy blocks is reported here
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_text_contents()
    assert {"/api/rounds", "/api/generate", "/api/score", "/api/stats"} <= {p.replace("\u200b", "") for p in paths}
    page.click("#operations-default-stats_api_stats_get .opblock-summary")
    page.click("#operations-default-stats_api_stats_get .execute")
    live = "#operations-default-stats_api_stats_get .live-responses-table tbody .response-col_status"
    page.wait_for_selector(live)
    assert page.locator(live).first.text_content().strip() == "200"
    assert '"dealt"' in page.text_content("#operations-default-stats_api_stats_get .live-responses-table tbody")
    assert not errors, errors


def test_the_policy_is_in_force_an_injected_inline_script_does_not_run(server, browser):
    page = browser.new_page()
    errors = console_errors(page)
    page.goto(server + "/")
    page.wait_for_selector("#option-3")
    try:
        page.add_script_tag(content="window.injected = 1;")  # what an injection would try
    except Exception:  # some Playwright versions report the blocked script as an error
        pass
    assert page.evaluate("window.injected") is None
    assert any("Content Security Policy" in e for e in errors), errors
