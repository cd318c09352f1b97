"""The HTML reports in a real browser (Debian's chromium, driven by Playwright): a run, a suite with
repetitions, a suite over Kafka releases (its grid, and a row that did not apply) and a validate
report render without a console error and show what they are for; a screenshot of each lands beside
its page (``report.png``) for people reading CI artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from chaos.cli import main
from chaos.oracle import reconcile_and_write
from chaos.reports import write_run_reports
from tests.helpers.reports import make_run, synthetic_suite, two_by_two

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "settings"


def look(chromium: str, page_path: Path) -> tuple[list[str], dict[str, int]]:
    """Open ``page_path`` in headless ``chromium``: the console errors it raised, counts of what it
    shows, and ``report.png`` beside it."""
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.resolve().as_uri())
            page.screenshot(path=str(page_path.with_name("report.png")), full_page=True)
            shown = {
                "timeline": page.locator("svg polyline").count(),
                "fault_windows": page.locator("svg rect[fill-opacity]").count(),
                "tables": page.locator("table").count(),
                "rates": page.get_by_text("How often each stage lost records").count(),
            }
        finally:
            browser.close()
    return errors, shown


def test_a_run_report_renders_its_timeline_fault_windows_and_loss(tmp_path: Path, chromium: str) -> None:
    run_dir = tmp_path / "demo"
    make_run(run_dir, {"broker_loss": 0})
    reconcile_and_write(run_dir)
    assert write_run_reports(run_dir) == []
    errors, shown = look(chromium, run_dir / "report.html")
    assert errors == []
    assert shown["timeline"] >= 2 and shown["fault_windows"] == 2 and shown["tables"] >= 3, shown
    assert (run_dir / "report.png").stat().st_size > 10_000


def test_a_suite_report_renders_its_repetition_rates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chromium: str
) -> None:
    suite, _ = synthetic_suite(monkeypatch, tmp_path, "b2", 3)
    errors, shown = look(chromium, suite.suite_dir / "report.html")
    assert errors == [] and shown["rates"] == 1, shown
    assert (suite.suite_dir / "report.png").exists()


def test_a_validate_report_renders(tmp_path: Path, chromium: str, jdk: tuple[str, str]) -> None:
    args = ["validate", "--producer-config", str(EXAMPLES / "producer-acks1.properties")]
    args += ["--consumer-config", str(EXAMPLES / "consumer-auto-commit.properties"), "--static-only"]
    with pytest.raises(SystemExit):
        main([*args, "--reports", str(tmp_path), "-q"])
    (out,) = tmp_path.iterdir()
    assert json.loads((out / "validate.json").read_text())["verdict"] == "FAIL"
    errors, shown = look(chromium, out / "report.html")
    assert errors == [] and shown["tables"] >= 1, shown
    assert (out / "report.png").exists()


def test_a_suite_over_releases_renders_its_grid(tmp_path: Path, chromium: str) -> None:
    two_by_two(tmp_path)
    errors, shown = look(chromium, tmp_path / "report.html")
    assert errors == [] and shown["tables"] == 2, shown  # the runs, and the grid of clients by releases
    errors, shown = look(chromium, tmp_path / "elr.java@3.9.1" / "report.html")
    assert errors == [] and shown == {"timeline": 0, "fault_windows": 0, "tables": 0, "rates": 0}  # a row not run
