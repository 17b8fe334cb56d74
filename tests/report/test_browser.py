"""The report in a real headless Chromium: no errors, plots drawn, the explorer responds.

The browser is Debian's ``chromium`` (``.ci/run`` installs it), driven over the DevTools
protocol through a pipe by the stdlib client in :mod:`tests.report.cdp`. A screenshot of
the whole page is kept as ``test-artifacts/report.png``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from logitkit.evaluation import confusion_table
from logitkit.report._html import fmt_prob
from tests.report.cdp import CHROMIUM, Browser

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"Chromium is not installed at {CHROMIUM} (CI installs it: apt-get install chromium)",
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CELLS = ("ex-tp", "ex-fn", "ex-fp", "ex-tn")


@pytest.fixture(scope="module")
def browser(demo, tmp_path_factory) -> Iterator[Browser]:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(demo.page(), encoding="utf-8")
    with Browser() as b:
        b.open_page()
        b.load(path)
        yield b


def cells(browser: Browser) -> dict[str, int]:
    script = f"JSON.stringify({list(CELLS)!r}.map(id => document.getElementById(id).textContent))"
    values = json.loads(browser.evaluate(script))
    return {k: int(v) for k, v in zip(CELLS, values, strict=True)}


def expected(demo, threshold: float) -> dict[str, int]:
    p = demo.model.predict_proba(demo.X_test)[:, 1]
    row = confusion_table(demo.y_test, p, positive="malignant", thresholds=threshold).iloc[0]
    return {"ex-tp": row["tp"], "ex-fn": row["fn"], "ex-fp": row["fp"], "ex-tn": row["tn"]}


def move_slider(browser: Browser, index: int) -> None:
    browser.evaluate(
        "(() => { const s = document.getElementById('ex-slider');"
        f" s.value = '{index}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); }})()"
    )


def test_page_loads_without_console_errors(browser):
    assert browser.evaluate("document.readyState") == "complete"
    assert browser.problems() == []


def test_plots_are_drawn(browser):
    sizes = browser.evaluate(
        "Array.from(document.querySelectorAll('svg.plot'))"
        ".map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height,"
        " s.querySelectorAll('path, circle').length]; })"
    )
    assert len(sizes) == 6
    assert all(w > 300 and h > 150 and marks > 0 for w, h, marks in sizes)


def test_slider_updates_the_numbers(browser, demo):
    data = json.loads(browser.evaluate("document.getElementById('lk-explorer-data').textContent"))
    assert cells(browser) == expected(demo, demo.policy.threshold)
    move_slider(browser, data["default"])
    assert cells(browser) == expected(demo, 0.5)
    assert browser.evaluate("document.getElementById('ex-threshold').textContent") == "0.500"
    high = len(data["grid"]) - 40
    move_slider(browser, high)
    at_high = cells(browser)
    assert at_high == expected(demo, data["grid"][high])
    assert at_high["ex-tp"] < expected(demo, 0.5)["ex-tp"]
    sentence = browser.evaluate("document.getElementById('ex-sentence').textContent")
    assert f"{at_high['ex-tp']} of {at_high['ex-tp'] + at_high['ex-fn']} malignant" in sentence
    recall = browser.evaluate("document.getElementById('ex-recall').textContent")
    assert float(recall) == pytest.approx(
        at_high["ex-tp"] / (at_high["ex-tp"] + at_high["ex-fn"]), abs=5e-3
    )


def test_keyboard_and_buttons_move_the_threshold(browser, demo):
    data = json.loads(browser.evaluate("document.getElementById('lk-explorer-data').textContent"))
    browser.evaluate("document.getElementById('ex-to-policy').click()")
    assert browser.evaluate("document.activeElement.id") == "ex-slider"
    assert cells(browser) == expected(demo, demo.policy.threshold)
    for _ in range(60):  # arrow keys step through the thresholds
        for kind in ("keyDown", "keyUp"):
            browser.send(
                "Input.dispatchKeyEvent",
                {
                    "type": kind,
                    "key": "ArrowRight",
                    "code": "ArrowRight",
                    "windowsVirtualKeyCode": 39,
                },
            )
    index = int(browser.evaluate("document.getElementById('ex-slider').value"))
    assert index == data["start"] + 60
    assert cells(browser) == expected(demo, data["grid"][index])
    assert browser.problems() == []


def test_screenshot_is_kept(browser):
    browser.evaluate("document.getElementById('ex-to-policy').click()")
    browser.evaluate("window.scrollTo(0, 0)")
    path = ARTIFACTS / "report.png"
    browser.screenshot(path)
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert width >= 1200
    assert height > 3000


def test_numbers_are_formatted_as_in_python(browser):
    data = json.loads(browser.evaluate("document.getElementById('lk-explorer-data').textContent"))
    for index in (
        0,
        1,
        data["start"],
        data["default"],
        len(data["grid"]) // 3,
        len(data["grid"]) - 1,
    ):
        move_slider(browser, index)
        shown = browser.evaluate("document.getElementById('ex-threshold').textContent")
        assert shown == fmt_prob(data["grid"][index])
        assert (
            browser.evaluate("document.getElementById('ex-slider').getAttribute('aria-valuetext')")
            == shown
        )
