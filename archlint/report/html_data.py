"""What the HTML report draws, as plain JSON-ready data: one view per model and target.

Every number travels twice: raw, for the page to plot and sort, and as text formatted here with
archlint.units, so the page shows the same figures as the terminal reports and its script
needs no number formatting of its own (beyond axis ticks).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archlint import __version__, units
from archlint.analysis.analysis import Analysis
from archlint.analysis.roofline import NodeTime, Prediction
from archlint.analysis.throughput import Throughput
from archlint.lint.diagnostics import Diagnostic
from archlint.targets.profile import HardwareProfile

# Colours of op types in the order of their share of time; the rest share OTHER_COLOUR.
PALETTE = (
    "#3b6fd4",
    "#e8743b",
    "#1a9e77",
    "#9a5fd1",
    "#e04b76",
    "#17a2b8",
    "#c99a06",
    "#6b4f3a",
    "#2c4a7c",
    "#7cb342",
)
OTHER_COLOUR = "#9aa1ad"

JsonDict = dict[str, Any]


def report_data(
    command: str,
    analyses: Sequence[Analysis],
    diagnostics: Sequence[Diagnostic] = (),
    throughputs: Mapping[str, Throughput] | None = None,
) -> JsonDict:
    """``throughputs``: samples/s by target name, for ``analyze``'s one model."""
    several_models = len({a.model.path for a in analyses}) > 1
    found = throughputs or {}
    views = [view(a, p, several_models, found.get(p.profile.name)) for a in analyses for p in a.predictions]
    return {
        "tool": f"archlint {__version__}",
        "command": command,
        "models": list(dict.fromkeys(a.model.path for a in analyses)),
        "colours": op_type_colours(analyses),
        "other_colour": OTHER_COLOUR,
        "views": views,
        "findings": [finding(d) for d in diagnostics],
    }


def op_type_colours(analyses: Sequence[Analysis]) -> dict[str, str]:
    """One colour per op type for the whole report, so Conv keeps its colour across targets."""
    time_by_type: dict[str, float] = defaultdict(float)
    for analysis in analyses:
        for prediction in analysis.predictions:
            for timed in prediction.nodes:
                time_by_type[timed.cost.op_type] += timed.time_s / (prediction.latency_s or 1.0)
    ranked = sorted(time_by_type, key=lambda op_type: (-time_by_type[op_type], op_type))
    return {op_type: PALETTE[i] if i < len(PALETTE) else OTHER_COLOUR for i, op_type in enumerate(ranked)}


def view(
    analysis: Analysis, prediction: Prediction, several_models: bool, throughput: Throughput | None = None
) -> JsonDict:
    target = prediction.profile.name
    return {
        # The select shows the file name; its group (an <optgroup>) the whole path.
        "label": f"{target} · {Path(analysis.model.path).name}" if several_models else target,
        "model": analysis.model.path,
        "target": target,
        "description": prediction.profile.description,
        "roof": roof(prediction.profile),
        "totals": totals(analysis, prediction, throughput),
        "nodes": [node(i, timed, prediction.latency_s) for i, timed in enumerate(prediction.nodes)],
        "unknown_ops": [
            {"name": u.name, "op_type": u.op_type, "reason": u.reason} for u in analysis.cost.unknown_ops
        ],
        "notes": list(analysis.cost.notes),
    }


def roof(profile: HardwareProfile) -> JsonDict:
    """The memory slope and one ceiling per peak rate; dtypes with the same rate share a line."""
    by_rate: dict[float, list[str]] = defaultdict(list)
    for dtype, rate in profile.peak_flops.items():
        by_rate[rate].append(dtype)
    ceilings = [
        {
            "dtypes": ", ".join(dtypes),
            "flops": rate,
            "text": rate_text(rate, "OP/s" if all(d.startswith("int") for d in dtypes) else "FLOP/s"),
            "ridge": rate / profile.memory_bandwidth,
        }
        for rate, dtypes in sorted(by_rate.items())
    ]
    bandwidth = profile.memory_bandwidth
    return {"bandwidth": bandwidth, "bandwidth_text": rate_text(bandwidth, "B/s"), "ceilings": ceilings}


def rate_text(value: float, unit: str) -> str:
    """2.04e12, 'B/s' -> '2.04 TB/s'; 500, 'B/s' -> '500 B/s'."""
    text = units.count(value)
    return f"{text}{unit}" if text[-1].isalpha() else f"{text} {unit}"


def node(index: int, timed: NodeTime, latency_s: float) -> JsonDict:
    cost = timed.cost
    share = timed.time_s / latency_s if latency_s else 0.0
    unplotted = off_chart(timed)
    attained = cost.flops / timed.time_s if unplotted is None else None
    return {
        "i": index,
        "name": cost.name,
        "op_type": cost.op_type,
        "dtype": cost.compute_dtype,
        "flops": cost.flops,
        "flops_text": units.count(cost.flops),
        "params": cost.params,
        "params_text": units.count(cost.params),
        "bytes": cost.bytes,
        "bytes_text": units.size(cost.bytes),
        "intensity": cost.intensity if cost.bytes else None,
        "intensity_text": f"{cost.intensity:.3g}" if cost.bytes else "-",
        "time_s": timed.time_s,
        "time_text": units.seconds(timed.time_s),
        "share": share,
        "share_text": units.percent(timed.time_s, latency_s),
        "bound": timed.bound,
        "attained": attained,
        "attained_text": rate_text(attained, "FLOP/s") if attained is not None else "-",
        "plotted": unplotted is None,
        "off_chart": unplotted,
    }


def off_chart(timed: NodeTime) -> str | None:
    """Why an operator has no point: a log axis has no place for zero FLOPs, bytes or time."""
    if timed.cost.flops <= 0:
        return "no FLOPs"
    if timed.cost.bytes <= 0:
        return "no bytes"
    if timed.time_s <= 0:
        return f"no time of its own ({timed.bound})"
    return None


def totals(
    analysis: Analysis, prediction: Prediction, throughput: Throughput | None = None
) -> list[JsonDict]:
    """The summary cards: a label, the value, and a line that qualifies it."""
    cost = analysis.cost
    unknown = len(cost.unknown_ops)
    batch = f"batch {throughput.given.batch}" if throughput else "at the bound shapes"
    cards = [
        ("Predicted latency", units.seconds(prediction.latency_s), batch),
        *throughput_cards(prediction, throughput),
        ("FLOPs", units.count(cost.flops), f"{units.count(cost.flops / 2)} MACs"),
        ("Parameters", units.count(cost.params), f"{units.size(cost.weight_bytes)} of weights"),
        ("Bytes moved", units.size(cost.bytes), f"{units.size(cost.activation_bytes)} activations written"),
        ("Peak memory", units.size(cost.peak_memory_bytes), "weights + live activations"),
        ("Operators", str(len(cost.nodes)), f"{unknown} unknown op{'s' if unknown != 1 else ''}"),
    ]
    return [
        {"label": label, "value": value, "detail": detail, "alert": label == "Operators" and unknown > 0}
        for label, value, detail in cards
    ]


def throughput_cards(prediction: Prediction, throughput: Throughput | None) -> list[tuple[str, str, str]]:
    """Samples/s with the device full, else at the given batch and why no more (``check``, which
    costs no other batch, shows only whether the model fits)."""
    if throughput is None:
        return (
            []
            if prediction.fits
            else [("Throughput", "does not fit", "weights and activations exceed device memory")]
        )
    return [throughput_card(throughput)]


def throughput_card(throughput: Throughput) -> tuple[str, str, str]:
    given, saturated = throughput.given, throughput.saturated
    if saturated is not None:
        where = f"at batch {saturated.batch}"
        if saturated.batch == throughput.largest_batch:
            where += ", the largest that fits"
        return ("Throughput, device full", f"{saturated.samples_per_s:,.1f} samples/s", where)
    if not given.fits:
        return (
            "Throughput",
            "does not fit",
            f"weights and activations exceed device memory at batch {given.batch}",
        )
    detail = f"at batch {given.batch}" + (f": {throughput.note}" if throughput.note else "")
    return ("Throughput", f"{given.samples_per_s:,.1f} samples/s", detail)


def finding(d: Diagnostic) -> JsonDict:
    # The page shows the model beside the place when there are several: a node, a source line,
    # or the whole model.
    place = f"{d.location.path}:{d.location.line}" if d.location else d.node or "whole model"
    return {
        "severity": d.severity.value,
        "code": d.code,
        "name": d.name,
        "target": d.target,
        "model": d.path,
        "where": place,
        "message": d.message,
        "fix": d.fix,
        "saving_s": d.saving_s,
        "saving_text": units.seconds(d.saving_s) if d.saving_s > 0 else "-",
    }
