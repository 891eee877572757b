"""Every operator of the default ONNX domain, in every opset, has a cost handler."""

from __future__ import annotations

import onnx.defs

from archlint.costs.table import CONTROL_FLOW, HANDLERS, handler_for


def test_every_default_domain_operator_has_a_handler() -> None:
    names = {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""}
    missing = sorted(n for n in names if handler_for("", n) is None and n not in CONTROL_FLOW)
    assert missing == []


def test_ai_onnx_is_the_default_domain() -> None:
    assert handler_for("ai.onnx", "Conv") is handler_for("", "Conv")


def test_custom_domains_have_no_handler_by_default() -> None:
    assert handler_for("com.example", "Conv") is None
    assert ("com.microsoft", "FusedConv") in HANDLERS
