"""The HTML report in a real browser: Debian's Chromium, headless, driven by Playwright.

The report of the planted history loads with no console error and no request beyond the file
itself, its six charts are drawn (Chart.js made a chart on each canvas and painted pixels),
and a screenshot is taken. A report whose grants carry hostile justifications (closing the
script element, images and scripts that call a server) shows that text as text, runs none
of it, and asks no server for anything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.report.history import Grant, History, build, day

CHROMIUM = "/usr/bin/chromium"
# The launch flags this machine needs (docs: the machine's notes on headless Chromium): no
# sandbox as root, and none of Chromium's own background connections.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHARTS = ("chart-over-time", "chart-heatmap", "chart-approval", "chart-revocation",
          "chart-requesters", "chart-approvers")
HOSTILE = ('</script><script>fetch("http://203.0.113.9/a")</script>'
           '<img src="http://203.0.113.9/b.png" onerror="alert(1)">')


@dataclass
class Visit:
    """What the browser saw while it opened one page."""

    page: Page
    url: str
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(bash .ci/test does)")
    with sync_playwright() as playwright:
        # A fresh profile each time: nothing cached, nothing from an earlier run.
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 1000}, offline=True)
        try:
            yield context
        finally:
            context.close()


def visit(context: Any, path: Path) -> Visit:
    page = context.new_page()
    seen = Visit(page, path.resolve().as_uri())
    page.on("console", lambda message: seen.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: seen.console.append(f"pageerror: {error}"))
    page.on("request", lambda request: seen.requests.append(request.url))

    def dialog(opened: Any) -> None:
        seen.dialogs.append(opened.message)
        opened.dismiss()

    page.on("dialog", dialog)
    page.goto(seen.url, wait_until="load")
    page.wait_for_selector("body[data-charts]", timeout=15_000)
    return seen


PAINTED = """
(id) => {
  const canvas = document.getElementById(id);
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext("2d")
    .getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted += 1; }
  return {type: chart ? chart.config.type : null, width: canvas.width, painted: painted};
}
"""


def test_the_report_loads_offline_draws_every_chart_and_is_screenshotted(
        planted: History, browser: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "review.html"
    assert planted.report("--forge", "local", "--format", "html", "--output",
                          str(report)) == 0
    capsys.readouterr()
    seen = visit(browser, report)
    assert seen.console == []
    assert seen.requests == [seen.url]
    assert seen.page.get_attribute("body", "data-charts") == "6"
    drawn = {chart: seen.page.evaluate(PAINTED, chart) for chart in CHARTS}
    assert {chart: info["type"] for chart, info in drawn.items()} == {
        "chart-over-time": "bar", "chart-heatmap": "matrix", "chart-approval": "bar",
        "chart-revocation": "bar", "chart-requesters": "bar", "chart-approvers": "bar"}
    for chart, info in drawn.items():
        assert info["width"] > 200 and info["painted"] > 2000, (chart, info)
    assert seen.page.inner_text("#headline") == "7 findings: 2 high, 3 medium, 2 low"
    assert seen.page.locator("article.finding").count() == 7
    shot = tmp_path / "review.png"
    seen.page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    keep = os.environ.get("GITJIT_SCREENSHOTS")
    if keep:  # for a person to look at: GITJIT_SCREENSHOTS=/some/folder pytest ...
        shutil.copy(shot, Path(keep) / "report.png")


def test_hostile_justifications_are_shown_as_text_and_never_run(
        tmp_path: Path, browser: Any, capsys: pytest.CaptureFixture[str]) -> None:
    plan = [Grant(who, "db", day(d, 10), "dave", justification=HOSTILE,
                  review_after=timedelta(minutes=5))
            for d, who in enumerate(("alice", "bob", "carol"))]
    history = build(tmp_path / "repo", plan)
    report = tmp_path / "hostile.html"
    assert history.report("--forge", "local", "--format", "html", "--output",
                          str(report)) == 0
    capsys.readouterr()
    html = report.read_text("utf-8")
    assert "<img src=" not in html and '<script>fetch(' not in html
    seen = visit(browser, report)
    assert seen.console == [] and seen.dialogs == []
    assert seen.requests == [seen.url]
    assert seen.page.get_attribute("body", "data-charts") == "6"
    reused = seen.page.locator('article[data-code="report.reused-justification"]')
    assert HOSTILE in reused.inner_text()
    assert seen.page.locator("img").count() == 0
