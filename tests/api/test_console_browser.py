"""The console in a real browser: Playwright drives headless Chromium (Debian's) against `dispatch serve` on Daxing.

Slow (a server process and a browser): make test-slow runs them, and installs Debian's chromium first.
Screenshots of each view go to $DISPATCH_ARTIFACTS (default .artifacts/console), at 1280x800 and 1920x1080.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.api.conftest import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent.parent
DAXING = ROOT / "rules" / "daxing"
CASES = DAXING / "cases-sample.csv"
BIN = Path(sys.executable).parent
ARTIFACTS = Path(os.environ.get("DISPATCH_ARTIFACTS", ROOT / ".artifacts" / "console"))
DAY = "2026-12-01"
CASE = {"id": "C0002425", "event": "10001002", "area": "110115103217", "source": "grid",
        "reported_at": "2026-01-27T10:37:37+08:00"}  # fmt: skip


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine: make test-slow installs Debian's chromium package (root, apt-get)")


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("console") / "daxing"
    shutil.copytree(DAXING, target)
    return target


@pytest.fixture(scope="module")
def base_url(rules: Path):
    port = free_port()
    env = {**os.environ, "DISPATCH_LOG_LEVEL": "warning", "DISPATCH_RULES_POLL": "1"}
    proc = subprocess.Popen(
        [str(BIN / "dispatch"), "serve", "--rules", str(rules), "--port", str(port), "--cases", str(CASES)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode()[-3000:])
            try:
                if _get(url + "/readyz").get("ready"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the server did not get ready")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    executable = _chromium()
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base_url + "/console/")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    yield page
    context.close()
    assert errors == []


def _shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}.png"))
    page.set_viewport_size({"width": 1280, "height": 800})


def test_simulating_a_case_shows_what_explain_answers(page, base_url):
    want = _post(base_url + "/v1/explain", CASE)
    page.get_by_test_id("event").fill(CASE["event"])
    page.get_by_test_id("area").fill(CASE["area"])
    page.get_by_test_id("source").select_option(CASE["source"])
    page.get_by_test_id("reported-at").fill(CASE["reported_at"])
    page.get_by_test_id("case-id").fill(CASE["id"])
    page.get_by_test_id("submit").click()
    page.wait_for_selector("[data-testid=candidates]")
    d = want["decision"]
    assert page.get_by_test_id("department").get_attribute("data-code") == d["department"]["code"]
    assert d["department"]["name"] in page.get_by_test_id("department").inner_text()
    assert page.get_by_test_id("due").inner_text() == d["deadline"]["due"]
    assert page.get_by_test_id("rule-id").inner_text() == d["rule"]["id"]
    shown = page.locator("[data-testid=candidates] tbody tr").evaluate_all("rows => rows.map(r => r.dataset.rule)")
    assert shown == [m["id"] for m in want["matching"]] and len(shown) > 1
    _shoot(page, "simulate")


def test_a_pasted_case_with_a_naive_time_and_a_bad_code(page, base_url):
    """A seat operator pastes values: a time without offset is the rule set's; an unknown area is named."""
    page.get_by_test_id("event").fill(CASE["event"])
    page.get_by_test_id("area").fill("110115999")
    page.get_by_test_id("reported-at").fill("2026-01-27T10:37:37")
    page.get_by_test_id("submit").click()
    error = page.get_by_test_id("error")
    assert "request.unknown_area" in error.inner_text() and "/area" in error.inner_text()
    page.get_by_test_id("area").fill(CASE["area"])
    page.get_by_test_id("submit").click()
    page.wait_for_selector("[data-testid=candidates]")
    assert page.get_by_test_id("due").inner_text().endswith("+08:00")


def test_searching_the_taxonomy_in_chinese_picks_a_code(page):
    page.get_by_test_id("event-search").fill("井盖缺失")
    hits = page.locator("[data-testid=event-tree] .hit")
    codes = hits.evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert "01001001" in codes and all(len(c) == 8 for c in codes)  # items only: what a case names
    hits.filter(has_text="01001001").first.click()
    assert page.get_by_test_id("event").input_value() == "01001001"
    # the area tree: open the district, a town, pick by keyboard
    page.get_by_test_id("area-search").fill("兴丰")
    page.locator("[data-testid=area-tree] .hit").first.focus()
    page.keyboard.press("Enter")
    assert page.get_by_test_id("area").input_value().startswith("110115001")


def test_opening_a_rule_from_the_browser(page, base_url):
    page.get_by_test_id("tab-rules").click()
    page.get_by_test_id("matrix-event").fill("06042001")
    page.get_by_test_id("matrix-submit").click()
    cell = page.get_by_test_id("matrix-cell").first
    cell.click()
    link = page.locator("[data-testid=entry-detail] .rule-link").first
    rule_id = link.get_attribute("data-rule")
    link.click()
    page.wait_for_selector("[data-testid=rule-detail-id]")
    want = _get(f"{base_url}/v1/rules/{rule_id}")["rule"]
    assert page.get_by_test_id("rule-detail-id").inner_text() == want["id"]
    assert page.get_by_test_id("rule-detail-place").inner_text() == f"{want['file']}:{want['line']}"
    fields = page.get_by_test_id("rule-detail").inner_text()
    assert want["basis"] in fields and want["department"] in fields and "HTMLElement" not in fields
    _shoot(page, "rule")
    page.keyboard.press("Escape")
    matrix = _get(f"{base_url}/v1/matrix?event=06042001")
    assert page.get_by_test_id("matrix-cell").count() == len(matrix["entries"])
    _shoot(page, "rules")
    # filtered to manual: only cells that fall to the seat operators (none for this item)
    page.get_by_test_id("manual-only").check()
    manual = [e for e in matrix["entries"] if matrix["outcomes"][e["outcome"]]["status"] == "manual"]
    expect(page.get_by_test_id("matrix-cell")).to_have_count(len(manual))


def test_coverage_totals_are_those_of_dispatch_coverage(page, rules):
    done = subprocess.run(
        [str(BIN / "dispatch"), "coverage", str(rules), "--cases", str(CASES), "--at", DAY, "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    want = json.loads(done.stdout)
    page.get_by_test_id("tab-coverage").click()
    page.get_by_test_id("coverage-at").fill(DAY)
    page.get_by_test_id("coverage-submit").click()
    page.wait_for_selector(f"[data-testid=coverage-total][data-unit=cells]:has-text('{DAY}')")
    for unit in ("cells", "cases"):
        if unit == "cases":
            page.get_by_test_id("unit-cases").check()
        total = page.locator(f"[data-testid=coverage-total][data-unit={unit}]")
        total.wait_for()
        for status in ("auto", "provisional", "manual"):
            assert int(total.get_attribute(f"data-{status}")) == want[unit]["total"][status], (unit, status)
        rows = page.locator("[data-testid=coverage-table] tbody tr").count()
        assert rows == len(want["categories"]) + 1  # and the totals row
        _shoot(page, f"coverage-{unit}")


def test_the_version_follows_a_reload(page, rules):
    before = page.get_by_test_id("ruleset-version").inner_text()
    assert before == _get(page.url.split("/console")[0] + "/v1/ruleset")["version"]
    rule_file = rules / "rules" / "municipal.csv"
    text = rule_file.read_text(encoding="utf-8")
    tmp = rule_file.with_suffix(".tmp")
    tmp.write_text(text.replace("MUN-000001,01001001,110115,,,dx-zls", "MUN-000001,01001001,110115,,,dx-cgw"), "utf-8")
    tmp.replace(rule_file)  # as an editor or a deploy tool should: an atomic rename
    # expect() polls without evaluating strings, which the console's CSP (no unsafe-eval) forbids
    expect(page.get_by_test_id("ruleset-version")).not_to_have_text(before, timeout=60_000)
    assert page.get_by_test_id("ruleset-version").inner_text() == _get(page.url.split("/console")[0] + "/v1/ruleset")["version"]
    assert page.get_by_test_id("ruleset-notice").is_visible()
