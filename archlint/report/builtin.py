"""archlint's built-in output formats, registered like any plugin's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from archlint import hookimpl

if TYPE_CHECKING:
    from archlint.report.base import Reporter


@hookimpl
def archlint_register_reporters(register: Callable[[type[Reporter]], None]) -> None:
    # Imported here, when the formats are asked for: several load rich, which a command that
    # reports nothing through them (analyze) should not pay for.
    from archlint.report.check_json import JsonReporter
    from archlint.report.concise import ConciseReporter
    from archlint.report.full import FullReporter
    from archlint.report.github import GithubReporter
    from archlint.report.html_report import HtmlReporter
    from archlint.report.markdown import MarkdownReporter
    from archlint.report.rdjson import RdjsonReporter
    from archlint.report.review_json import ReviewJsonReporter
    from archlint.report.sarif import SarifReporter

    for reporter in (
        FullReporter,
        ConciseReporter,
        JsonReporter,
        SarifReporter,
        GithubReporter,
        MarkdownReporter,
        RdjsonReporter,
        ReviewJsonReporter,
        HtmlReporter,
    ):
        register(reporter)
