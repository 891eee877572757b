"""``--format html``: one self-contained page with a roofline chart, totals, an operator table and
the findings, for ``archlint check`` and ``archlint analyze`` alike.

Nothing is fetched when the page opens: the style sheet and the script (html_report.css and
html_report.js, package data beside this module) are inlined, and the data travel as JSON in a
``<script type="application/json">`` element that the script reads.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from importlib import resources

from archlint.analysis.analysis import Analysis
from archlint.analysis.throughput import Throughput
from archlint.report.base import CheckReport, Reporter
from archlint.report.html_data import JsonDict, report_data

# Inside <script>, "</script" ends the element and "<!--" changes how the parser reads it: JSON
# may spell <, > and & as \u escapes, which JSON.parse reads back unchanged.
_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def embed_json(data: JsonDict) -> str:
    """``data`` as JSON text that cannot end or alter the script element it sits in."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False).translate(_SCRIPT_ESCAPES)


def _asset(name: str) -> str:
    return resources.files("archlint.report").joinpath(name).read_text(encoding="utf-8")


def page(data: JsonDict) -> str:
    models = ", ".join(data["models"]) or "no model"
    title = html.escape(f"archlint {data['command']}: {models}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{html.escape(data["tool"])}">
<title>{title}</title>
<style>
{_asset("html_report.css")}
</style>
</head>
<body>
<noscript><p class="noscript">This report draws its chart and tables with JavaScript, which is
turned off; its data are in the <code>archlint-data</code> JSON block of this file.</p></noscript>
<div id="app"></div>
<script type="application/json" id="archlint-data">{embed_json(data)}</script>
<script>
{_asset("html_report.js")}
</script>
</body>
</html>
"""


def render_analysis(analysis: Analysis, throughputs: Sequence[Throughput] = ()) -> str:
    """``archlint analyze --format html``; ``throughputs``: one per target, when given."""
    by_target = {t.profile.name: t for t in throughputs}
    return page(report_data("analyze", [analysis], throughputs=by_target))


class HtmlReporter(Reporter):
    name = "html"
    description = "a self-contained HTML page: roofline chart, totals, operator table, findings"

    def render(self, report: CheckReport) -> str:
        data = report_data("check", report.analyses, report.diagnostics)
        data["fail_level"] = report.fail_level.value
        data["failing"] = len(report.failing)
        return page(data)
