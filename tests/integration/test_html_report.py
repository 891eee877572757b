"""``--format html``: one self-contained page, checked as text and in a real (headless) chromium.

The browser tests need chromium and playwright (the `test` extra); they skip without them, except
in CI (CI=true), where they fail: see ``require_chromium``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from archlint.api import analyze
from archlint.cli import main
from archlint.report.html_data import rate_text, roof
from archlint.report.html_report import HtmlReporter, embed_json
from archlint.report.registry import reporter_for
from archlint.targets.registry import resolve_many
from tests.builders import model, require_chromium, save, value, weight

# Node names that would break out of the data block, or start an HTML comment, if not escaped.
HOSTILE = "</script><script>window.__pwned = 1</script>"
COMMENT = 'conv_b <!-- & "quoted"'
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    """Conv to 30 channels (AL101 fires), a Relu and a Conv with hostile names, a Reshape that
    has neither FLOPs nor bytes and so no place on the log-log chart, and an op with no cost model."""
    shape = numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1] * 4, name="conv_a"),
        helper.make_node("Relu", ["a"], ["b"], name=HOSTILE),
        helper.make_node("Conv", ["b", "w1"], ["c"], name=COMMENT),
        helper.make_node("Reshape", ["c", "shape"], ["d"], name="flatten"),
        helper.make_node("Mystery", ["d"], ["y"], name="mystery", domain="com.example"),
    ]
    inits = [weight("w0", (30, 3, 3, 3)), weight("w1", (32, 30, 1, 1)), shape]
    proto = model(
        nodes,
        [value("x", [1, 3, 32, 32])],
        [value("y", None, TensorProto.FLOAT)],
        inits,
        extra_opsets={"com.example": 1},
    )
    return save(proto, tmp_path / "model.onnx")


def _write(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "report.html"
    main([*args, "--format", "html", "--output-file", str(out)])
    return out.read_text(encoding="utf-8")


@pytest.fixture
def check_page(tmp_path: Path, model_path: Path) -> str:
    return _write(tmp_path, "check", str(model_path), "--target", "gpu,cpu")


class _Page(HTMLParser):
    """Tags in order, and the text of every script element (the parser keeps it in one piece)."""

    VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.tags: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "script":
            self.scripts.append((dict(attrs), ""))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.open[-1] if self.open else None}>")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _data(page: str) -> dict[str, Any]:
    (block,) = [text for attrs, text in _parse(page).scripts if attrs.get("type") == "application/json"]
    data: dict[str, Any] = json.loads(block)
    return data


def test_html_is_registered_for_check() -> None:
    assert reporter_for("html") is HtmlReporter


def test_the_page_references_nothing_outside_itself(check_page: str) -> None:
    external = [
        r"""\b(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:)?//""",
        r"@import",
        r"url\(",
        r"\bfetch\(",
        r"XMLHttpRequest",
        r"<link\b",
        r"<img\b",
        r"<iframe\b",
    ]
    for pattern in external:
        assert not re.search(pattern, check_page, re.I), pattern
    assert all("src" not in attrs for attrs, _ in _parse(check_page).scripts)


def test_the_page_parses_and_carries_every_node(check_page: str, model_path: Path) -> None:
    parsed = _parse(check_page)
    assert parsed.errors == [] and parsed.open == []
    assert parsed.tags[:3] == ["html", "head", "meta"]
    assert [attrs.get("type") for attrs, _ in parsed.scripts] == ["application/json", None]
    data = _data(check_page)
    names = {"conv_a", HOSTILE, COMMENT, "flatten"}
    assert [v["target"] for v in data["views"]] == ["a100", "xeon-avx512"]
    for view in data["views"]:
        assert {n["name"] for n in view["nodes"]} == names
        assert [u["name"] for u in view["unknown_ops"]] == ["mystery"]
    assert {f["code"] for f in data["findings"]} >= {"AL101"}
    block = json.dumps(data)
    assert "NaN" not in block and "Infinity" not in block


def test_node_names_cannot_break_out_of_the_data_block(check_page: str) -> None:
    # Two script elements, so "</script" appears exactly twice: at the end of each.
    assert check_page.count("</script") == 2
    assert "<!--" not in check_page
    assert HOSTILE not in check_page


@pytest.mark.parametrize("text", [HOSTILE, COMMENT, "a\u2028b", "</SCRIPT >", "<!-- -->"])
def test_embedded_json_reads_back_unchanged(text: str) -> None:
    embedded = embed_json({"name": text})
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    assert json.loads(embedded) == {"name": text}


def test_analyze_writes_the_same_page_without_findings(tmp_path: Path, model_path: Path) -> None:
    page = _write(tmp_path, "analyze", str(model_path), "--target", "cpu")
    data = _data(page)
    assert (data["command"], data["findings"], [v["target"] for v in data["views"]]) == (
        "analyze",
        [],
        ["xeon-avx512"],
    )


# ---- in a browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _open(browser: Any, path: Path) -> tuple[Any, list[str]]:
    """A page showing ``path``, and the list that collects its console errors and page errors."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    return page, errors


def _plottable(model_path: Path) -> dict[str, int]:
    """Operators with FLOPs and bytes above zero, per target: one point each (unless fused into
    another operator's kernel, with no time of their own)."""
    analysis = analyze(model_path, resolve_many("gpu,cpu"))
    return {
        p.profile.name: sum(1 for t in p.nodes if t.cost.flops > 0 and t.cost.bytes > 0 and t.time_s > 0)
        for p in analysis.predictions
    }


def _column(page: Any, css: str) -> list[str]:
    texts: list[str] = page.locator(css).all_inner_texts()
    return texts


def test_check_report_in_chromium(browser: Any, check_page: str, model_path: Path, tmp_path: Path) -> None:
    page, errors = _open(browser, tmp_path / "report.html")
    points = page.locator("svg circle.op")
    assert points.count() == _plottable(model_path)["a100"] == 2  # the Relu runs inside conv_a on a100
    attributes = page.evaluate(
        "[...document.querySelectorAll('svg *')].flatMap(e => [...e.attributes].map(a => a.value))"
    )
    assert not [a for a in attributes if "NaN" in a or "Infinity" in a]
    assert "flatten" in page.locator(".off-chart").inner_text()
    assert "mystery" in page.locator(".notes").inner_text()
    assert "1 unknown op" in page.locator(".card.alert").inner_text()
    assert page.evaluate("window.__pwned") is None
    assert HOSTILE in _column(page, "table.ops td.name")

    # The point drawn last lies on top of the others, so the mouse reaches it.
    top = points.last
    top.hover()
    tooltip = page.locator(".tooltip")
    assert tooltip.is_visible()
    assert top.get_attribute("aria-label") in tooltip.inner_text()

    before = _column(page, "table.ops td.name")
    flops = {n["name"]: n["flops"] for n in _data(check_page)["views"][0]["nodes"]}
    page.get_by_role("button", name="FLOPs", exact=True).click()
    descending = _column(page, "table.ops td.name")
    assert descending != before
    assert [flops[n] for n in descending] == sorted(flops.values(), reverse=True)
    page.get_by_role("button", name="FLOPs", exact=True).click()
    assert [flops[n] for n in _column(page, "table.ops td.name")] == sorted(flops.values())

    chart, times = page.locator("svg.roofline-svg").inner_html(), _column(page, "table.ops td.num")
    findings = _column(page, "table.findings tbody tr")
    page.select_option("#target", label="xeon-avx512")
    assert page.locator("svg circle.op").count() == _plottable(model_path)["xeon-avx512"]
    assert page.locator("svg.roofline-svg").inner_html() != chart
    assert _column(page, "table.ops td.num") != times
    assert "xeon-avx512" in page.locator(".subtitle").inner_text()
    assert _column(page, "table.findings tbody tr") != findings
    page.locator("#findings select").select_option("all")
    assert page.locator("table.findings tbody tr").count() == len(_data(check_page)["findings"])

    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert errors == []
    page.close()


def test_analyze_report_in_chromium(browser: Any, model_path: Path, tmp_path: Path) -> None:
    _write(tmp_path, "analyze", str(model_path), "--target", "cpu")
    page, errors = _open(browser, tmp_path / "report.html")
    assert page.locator("svg circle.op").count() == _plottable(model_path)["xeon-avx512"]
    assert page.locator("#findings").count() == 0
    assert page.locator("table.ops tbody tr").count() == 4
    assert errors == []
    page.close()


def test_peaks_of_equal_rate_share_one_labelled_ceiling() -> None:
    (a100,) = resolve_many("gpu")
    ceilings = roof(a100)["ceilings"]
    labels = [c["dtypes"] for c in ceilings]
    assert "fp64, fp32" in labels and len(labels) == len(set(a100.peak_flops.values()))
    assert [c["flops"] for c in ceilings] == sorted(c["flops"] for c in ceilings)
    assert ceilings[0]["text"] == "19.5 TFLOP/s"
    assert rate_text(500, "B/s") == "500 B/s"
