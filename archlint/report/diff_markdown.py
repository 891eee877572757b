"""``archlint diff --format markdown``: a pull-request comment on what a model change costs.

The totals first (FLOPs, bytes moved, parameters, predicted latency per target), then the new and
the fixed findings, then one row per layer that changed, was added or was removed, in graph order.
A reviewer reads the price of the change before its details; unchanged layers are left out.
Findings and layers of a model exported from PyTorch are named by module path (``features.3.conv``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from archlint import units
from archlint.diff.model_diff import Figures, LayerDelta, ModelDiff
from archlint.lint.diagnostics import Diagnostic
from archlint.report.markdown import code, md_table, plural, text

#: Places named in a finding's row before the rest are counted.
MAX_PLACES = 5

#: Layer rows shown before the rest is summarized: a comment stays readable (and under GitHub's
#: 65,536-character limit) when an export renames every node; ``--format json`` lists them all.
MAX_LAYERS = 60

Format = Callable[[float], str]


def _sign(delta: float) -> str:
    # A real minus sign: a cell starting with "-" reads like a list item to some renderers.
    return "+" if delta > 0 else "\N{MINUS SIGN}"


def share(before: float, after: float) -> str:
    """``+4.0%``; empty when there is no base to compare with."""
    return f"{_sign(after - before)}{abs(after - before) / before * 100:.1f}%" if before else ""


def change(before: float, after: float, fmt: Format) -> str:
    """``+1.2 µs (+4.0%)``; ``0`` when nothing changed."""
    delta = after - before
    if delta == 0:
        return "0"
    relative = f" ({share(before, after)})" if before else ""
    return f"{_sign(delta)}{fmt(abs(delta))}{relative}"


def render(diff: ModelDiff) -> str:
    parts = [_headline(diff), _totals(diff), _findings(diff)]
    if diff.changed_layers:
        parts.append(_layers(diff))
    return "\n\n".join(parts) + "\n"


def _headline(diff: ModelDiff) -> str:
    title = f"## archlint diff: {code(diff.base_path)} → {code(diff.head_path)}"
    layers = diff.changed_layers
    counts = {s: sum(layer.status == s for layer in layers) for s in ("changed", "added", "removed")}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no layer changed"
    findings = f"{plural(len(diff.new), 'new finding')}, {len(diff.fixed)} fixed"
    return f"{title}\n\nLayers: {summary}. Findings: {findings}."


def _totals(diff: ModelDiff) -> str:
    rows = [
        _row("FLOPs", diff.base.flops, diff.head.flops, units.count),
        _row("bytes moved", diff.base.bytes, diff.head.bytes, units.size),
        _row("parameters", diff.base_params, diff.head_params, units.count),
    ]
    for i, target in enumerate(diff.targets):
        label = f"latency {code(target)}, batch 1"
        rows.append(_row(label, diff.base.time_s[i], diff.head.time_s[i], units.seconds))
    return md_table(["", "base", "head", "change"], ["---", "---:", "---:", "---:"], rows)


def _row(label: str, before: float, after: float, fmt: Format) -> list[str]:
    return [label, fmt(before), fmt(after), change(before, after, fmt)]


def _findings(diff: ModelDiff) -> str:
    if not diff.new and not diff.fixed:
        return "### Findings\n\nNo finding appeared or went away."
    sections = ["### Findings"]
    if diff.new:
        sections.append(f"New ({len(diff.new)}):\n\n{_finding_table(diff.new, diff.head_anchors)}")
    if diff.fixed:
        sections.append(f"Fixed ({len(diff.fixed)}):\n\n{_finding_table(diff.fixed, diff.base_anchors)}")
    return "\n\n".join(sections)


def _finding_table(findings: Sequence[Diagnostic], anchors: Mapping[str, str]) -> str:
    rows = [
        [d.severity.value, d.code, _places(d, anchors), code(d.target), text(d.message)] for d in findings
    ]
    return md_table(["severity", "code", "node", "target", "message"], ["---"] * 5, rows)


def _places(d: Diagnostic, anchors: Mapping[str, str]) -> str:
    """The module paths (or node names) the finding is about: ``features.3.conv``."""
    if d.node is None:
        return code("(model)")
    names = [code(anchors.get(p.node or "", p.node or "")) for p in d.places]
    more = len(names) - MAX_PLACES
    return ", ".join(names[:MAX_PLACES]) + (f" and {more} more" if more > 0 else "")


def _layers(diff: ModelDiff) -> str:
    layers = diff.changed_layers
    header = ["layer", "op", "status", "FLOPs", "bytes", *(f"time {code(t)}" for t in diff.targets)]
    rows = [_layer_row(layer, len(diff.targets)) for layer in layers[:MAX_LAYERS]]
    table = md_table(header, ["---"] * 3 + ["---:"] * (2 + len(diff.targets)), rows)
    if len(layers) > MAX_LAYERS:
        table += f"\n\n{len(layers) - MAX_LAYERS} more layers; `archlint diff --format json` lists every one."
    return f"### Layers\n\n{table}"


def _layer_row(layer: LayerDelta, targets: int) -> list[str]:
    zero = Figures(0, 0, (0.0,) * targets)
    base, head = layer.base or zero, layer.head or zero

    def cell(before: float, after: float, fmt: Format) -> str:
        if layer.base is None or layer.head is None:  # the whole figure is the change: no share
            return f"{_sign(after - before)}{fmt(abs(after - before))}" if after != before else "0"
        if before == after:
            return fmt(after)
        return f"{fmt(before)} → {fmt(after)} ({share(before, after)})"

    cells = [cell(base.flops, head.flops, units.count), cell(base.bytes, head.bytes, units.size)]
    cells += [cell(base.time_s[i], head.time_s[i], units.seconds) for i in range(targets)]
    return [code(layer.name or "(unnamed)"), text(layer.op_type), layer.status, *cells]
