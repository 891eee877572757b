"""Does archlint read real-world exports right? Shapes against onnxruntime, costs against torch.

For every model ``benchmarks/corpus.py`` built (``benchmarks/.models/corpus/manifest.json``), at
the binding the manifest gives (``inputs``, and ``values`` for scalar inputs):

* shapes: every tensor the main graph computes is made a graph output and the model is run once
  by onnxruntime (CPU, graph optimizations disabled so nothing is fused away) on random inputs;
  each actual shape is compared with the one archlint resolved (``load_model``): equal, mismatch,
  or unresolved by archlint (a symbolic or unknown dimension, or no tensor at all);
* costs: operators archlint cannot cost, its multiply-adds of all operators and of dense ones
  (convolutions, matrix products, recurrent layers, fused attention and their quantized forms),
  the latter against ``torch_macs`` (torch's FlopCounterMode on the same module and inputs,
  recurrent layers added), and its parameter count against the weight elements stored in the
  file (what archlint means by parameters) and against torch's parameters;
* rebinding: the model is loaded again at the manifest's ``rebind`` binding (batch 4, often a
  longer sequence or larger image); the ratio of archlint's dense multiply-adds between the two
  bindings is shown next to torch's, and the shapes are checked against onnxruntime again.

    python benchmarks/corpus_check.py [--only bert-dynamo,crnn-torchscript] [--markdown docs/corpus.md]
                                      [--json FILE] [--dir FOLDER]

``--markdown`` writes the whole page (totals, table, legend); docs/corpus.md is that page.

A model archlint refuses shows archlint's one-line error; anything else it raises is marked as
a crash. The exit status is 0: the table is the result.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from _models import MODELS_DIR

from archlint.analysis.model_cost import ModelCost, NodeCost, compute_costs
from archlint.api import load_model
from archlint.errors import ArchlintError
from archlint.model.graph import Model

CORPUS_DIR = MODELS_DIR / "corpus"
MANIFEST = CORPUS_DIR / "manifest.json"
SEED = 0
DETAILS = 5  # mismatching and unresolved tensors listed per model

# Operators whose work is multiply-adds over weights or another activation: what torch's
# FlopCounterMode counts (plus recurrent layers). Named by op type rather than by archlint's own
# classification, so that a misclassified operator still shows up here.
DENSE_OPS = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "ConvInteger",
        "QLinearConv",
        "FusedConv",
        "NhwcConv",
        "Gemm",
        "QGemm",
        "FusedGemm",
        "GemmFastGelu",
        "MatMul",
        "MatMulInteger",
        "QLinearMatMul",
        "FusedMatMul",
        "MatMulIntegerToFloat",
        "DynamicQuantizeMatMul",
        "MatMulNBits",
        "Einsum",
        "LSTM",
        "GRU",
        "RNN",
        "DynamicQuantizeLSTM",
        "Attention",
        "QAttention",
        "MultiHeadAttention",
        "GroupQueryAttention",
        "PackedAttention",
        "PackedMultiHeadAttention",
        "DecoderMaskedMultiHeadAttention",
        "DecoderMaskedSelfAttention",
        "LongformerAttention",
    }
)

Shape = tuple[int, ...]


@dataclass
class ShapeReport:
    """archlint's resolved shapes against onnxruntime's actual ones, tensor by tensor."""

    compared: int = 0
    equal: int = 0
    mismatches: list[tuple[str, str, Shape, Any]] = field(default_factory=list)  # name, op, ort, archlint
    unresolved: list[tuple[str, str, Shape, Any]] = field(default_factory=list)


@dataclass
class Result:
    name: str
    exporter: str
    variant: str
    ops: int = 0
    ort_error: str | None = None
    archlint_error: str | None = None
    shapes: ShapeReport = field(default_factory=ShapeReport)
    uncosted: dict[str, int] = field(default_factory=dict)  # op type -> nodes
    dense_macs: int | None = None
    total_macs: int | None = None
    params: int | None = None
    torch_macs: int | None = None
    torch_params: int | None = None
    stored_params: int | None = None
    rebind_error: str | None = None
    rebind_ort_error: str | None = None
    rebind_macs: int | None = None
    rebind_params: int | None = None
    torch_rebind_macs: int | None = None
    rebind_shapes: ShapeReport = field(default_factory=ShapeReport)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def macs_error(self) -> float | None:
        if self.dense_macs is None or not self.torch_macs:
            return None
        return self.dense_macs / self.torch_macs - 1


# --- onnxruntime's shapes ---------------------------------------------------------------------------


def random_feeds(
    entry: Mapping[str, Any],
    shapes: Mapping[str, Sequence[int]],
    values: Mapping[str, Any] | None = None,
    seed: int = SEED,
) -> dict[str, Any]:
    """Inputs at ``shapes``: normal floats, ids below their table size, all-ones masks, and the
    scalars ``values`` gives (default: the entry's ``values``)."""
    rng = np.random.default_rng(seed)
    values = entry.get("values", {}) if values is None else values
    feeds: dict[str, Any] = {}
    for name, dtype in entry["dtypes"].items():
        if name in values:
            feeds[name] = np.array(values[name], dtype=dtype)
        elif np.issubdtype(np.dtype(dtype), np.floating):
            feeds[name] = rng.standard_normal(shapes[name]).astype(dtype)
        elif "mask" in name:
            feeds[name] = np.ones(shapes[name], dtype=dtype)
        else:
            limit = entry.get("int_limits", {}).get(name, 2)
            feeds[name] = rng.integers(0, limit, shapes[name]).astype(dtype)
    return feeds


def _with_every_output(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, str]]:
    """A copy of ``model`` whose graph outputs are all main-graph node outputs of tensor type,
    and the op type that produces each."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    try:
        types = {v.name: v.type for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    except Exception:  # onnx cannot infer some graphs; onnxruntime still can run them
        types = {v.name: v.type for v in model.graph.value_info}
    graph = exposed.graph
    listed = {o.name for o in graph.output}
    producers: dict[str, str] = {}
    for node in graph.node:
        for name in node.output:
            if not name:
                continue
            producers[name] = node.op_type
            known = types.get(name)
            if name in listed or (known is not None and not known.HasField("tensor_type")):
                continue
            value = graph.output.add()
            value.name = name
            if known is not None and known.tensor_type.elem_type:
                value.type.tensor_type.elem_type = known.tensor_type.elem_type
            listed.add(name)
    return exposed, producers


def ort_shapes(
    model: onnx.ModelProto,
    entry: Mapping[str, Any],
    shapes: Mapping[str, Sequence[int]],
    values: Mapping[str, Any] | None = None,
) -> dict[str, Shape]:
    """The shape of every main-graph tensor, as onnxruntime computes it on random inputs."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    providers = ["CPUExecutionProvider"]
    if model.ByteSize() < 2**31 - 2**20:
        session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=providers)
    else:  # protobuf's 2 GiB limit: through a file with external data
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.onnx"
            onnx.save(model, str(path), save_as_external_data=True, location="model.onnx.data")
            session = onnxruntime.InferenceSession(str(path), options, providers=providers)
    names = [o.name for o in session.get_outputs()]
    arrays = session.run(names, random_feeds(entry, shapes, values))
    return {
        n: tuple(int(d) for d in v.shape) for n, v in zip(names, arrays, strict=True) if hasattr(v, "shape")
    }


# Element types of weights: floats, and the narrow integers quantized weights are stored in
# (int32 and int64 tensors are shapes, indices and biases of quantized products, left out).
_T = onnx.TensorProto
_WEIGHT_TYPES = frozenset(
    {_T.FLOAT, _T.FLOAT16, _T.DOUBLE, _T.BFLOAT16, _T.INT8, _T.UINT8, _T.INT16, _T.UINT16, _T.INT4, _T.UINT4}
)


def stored_weights(graph: onnx.GraphProto) -> int:
    """Weight elements the file stores, in initializers and Constant nodes, subgraphs included:
    the parameters as the file has them, whatever the exporter folded (torch's count is of the
    module's tensors, before the exporter folds BatchNorm into convs or slices tables). Scales and
    zero points of quantized weights are in it too: a few elements per tensor or channel."""
    total = sum(
        int(np.prod(t.dims, dtype=np.int64)) for t in graph.initializer if t.data_type in _WEIGHT_TYPES
    )
    for node in graph.node:
        for attribute in node.attribute:
            if (
                node.op_type == "Constant"
                and attribute.name == "value"
                and attribute.t.data_type in _WEIGHT_TYPES
            ):
                total += int(np.prod(attribute.t.dims, dtype=np.int64))
            subgraphs = [attribute.g] if attribute.HasField("g") else []
            total += sum(stored_weights(g) for g in [*subgraphs, *attribute.graphs])
    return total


def compare(model: Model, actual: Mapping[str, Shape], producers: Mapping[str, str]) -> ShapeReport:
    report = ShapeReport()
    for name, shape in actual.items():
        report.compared += 1
        tensor = model.graph.tensors.get(name)
        resolved = None if tensor is None else tensor.shape
        row = (name, producers.get(name, "input"), shape, resolved)
        if resolved is None or any(not isinstance(d, int) for d in resolved):
            report.unresolved.append(row)
        elif tuple(resolved) == shape:
            report.equal += 1
        else:
            report.mismatches.append(row)
    return report


# --- archlint -----------------------------------------------------------------------------------------


def _load(path: Path, shapes: Mapping[str, Sequence[int]], values: Mapping[str, Any] | None) -> Model:
    """archlint's model at ``shapes``, with scalar input values where load_model accepts them."""
    kwargs: dict[str, Any] = {"inputs": {k: tuple(v) for k, v in shapes.items()}, "dims": {}}
    if values and "values" in inspect.signature(load_model).parameters:
        kwargs["values"] = dict(values)
    return load_model(path, **kwargs)


_GATES = {"LSTM": 4, "DynamicQuantizeLSTM": 4, "GRU": 3, "RNN": 1}


def dense_macs(cost: ModelCost) -> int:
    """Multiply-adds of the dense operators; for recurrent layers only their gate products, which
    is what the torch reference counts (archlint's recurrent FLOPs add the per-unit pointwise work
    of the gates, 17 operations per LSTM unit and step)."""
    total = 0
    for node in cost.nodes:
        if node.op_type in _GATES:
            total += _gate_macs(node, cost)
        elif node.op_type in DENSE_OPS:
            total += node.flops // 2
    return total


def _gate_macs(node: NodeCost, cost: ModelCost) -> int:
    graph = cost.model.graph
    x, w = (graph.tensors[name].static_shape or () for name in node.node.inputs[:2])
    batch_first = int(node.node.attr("layout", 0)) == 1
    steps, batch = (x[1], x[0]) if batch_first else (x[0], x[1])
    gates = _GATES[node.op_type]
    gate_width, inputs = (w[2], w[1]) if node.op_type == "DynamicQuantizeLSTM" else (w[1], w[2])
    hidden = gate_width // gates
    return node.repeats * w[0] * steps * batch * gates * hidden * (inputs + hidden)


def _error(error: BaseException) -> str:
    """archlint's one-line message, or the exception type and first line of anything else."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # exporters colour their messages
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    text = lines[0] if lines else ""
    prefix = "" if isinstance(error, ArchlintError) else "CRASH "
    return f"{prefix}{type(error).__name__}: {text}"[:240]


def check(entry: Mapping[str, Any], folder: Path = CORPUS_DIR) -> Result:
    """Every comparison for one model; each stage records its failure and the rest go on."""
    start = time.perf_counter()
    path = folder / entry["path"]
    result = Result(entry["name"], entry.get("exporter", "?"), entry.get("variant", "?"))
    result.torch_macs = entry.get("torch_macs")
    result.torch_params = entry.get("torch_params")
    result.torch_rebind_macs = entry.get("torch_macs_rebind")
    proto = onnx.load(str(path))
    result.ops = len(proto.graph.node)
    result.stored_params = stored_weights(proto.graph)
    exposed, producers = _with_every_output(proto)
    if entry.get("values") and "values" not in inspect.signature(load_model).parameters:
        result.notes.append(f"load_model takes no values: {entry['values']} not passed")

    actual: dict[str, Shape] = {}
    try:
        actual = ort_shapes(exposed, entry, entry["inputs"])
    except Exception as error:
        result.ort_error = _error(error).removeprefix("CRASH ")
    try:
        model = _load(path, entry["inputs"], entry.get("values"))
        result.shapes = compare(model, actual, producers)
        cost = compute_costs(model)
        result.uncosted = dict(Counter(op.op_type for op in cost.unknown_ops))
        result.dense_macs = dense_macs(cost)
        result.total_macs = cost.flops // 2
        result.params = cost.params
    except Exception as error:
        result.archlint_error = _error(error)
        if not isinstance(error, ArchlintError):
            result.notes.append(traceback.format_exc(limit=-3))

    rebind = entry.get("rebind")
    rebind_values = entry.get("rebind_values", entry.get("values"))
    if rebind and result.archlint_error is None:
        try:
            rebind_actual = ort_shapes(exposed, entry, rebind, rebind_values)
        except Exception as error:
            rebind_actual = {}
            result.rebind_ort_error = _error(error).removeprefix("CRASH ")
        try:
            model = _load(path, rebind, rebind_values)
            result.rebind_shapes = compare(model, rebind_actual, producers)
            rebound = compute_costs(model)
            result.rebind_macs = dense_macs(rebound)
            result.rebind_params = rebound.params
        except Exception as error:
            result.rebind_error = _error(error)
    result.seconds = time.perf_counter() - start
    return result


# --- the table ------------------------------------------------------------------------------------------


def _macs(value: int | None) -> str:
    if value is None:
        return "-"
    scale, unit = next(((s, u) for s, u in ((1e9, "G"), (1e6, "M"), (1e3, "K")) if value >= s), (1, ""))
    return f"{value / scale:.2f}{unit}"


def _rebind_cell(r: Result) -> str:
    if r.archlint_error is not None:
        return "-"
    if r.rebind_error is not None:
        suffix = " (ORT also failed)" if r.rebind_ort_error else ""
        return f"refused: {r.rebind_error}{suffix}"
    ratio = "?" if not r.dense_macs or r.rebind_macs is None else f"x{r.rebind_macs / r.dense_macs:.2f}"
    expected = (
        "?" if not r.torch_macs or not r.torch_rebind_macs else f"x{r.torch_rebind_macs / r.torch_macs:.2f}"
    )
    shapes = r.rebind_shapes
    if r.rebind_ort_error:
        check_text = "ORT failed"
    else:
        check_text = f"{len(shapes.mismatches)} mism, {len(shapes.unresolved)} unres"
    if r.rebind_params is not None and r.rebind_params != r.params:
        check_text += f", params now {r.rebind_params / 1e6:.3f}M"
    return f"{ratio} (torch {expected}), {check_text}"


def _params_cell(r: Result) -> str:
    if r.params is None:
        return "-"
    cell = f"{r.params / 1e6:.3f}M"
    for label, reference in (("stored", r.stored_params), ("torch", r.torch_params)):
        if reference:
            cell += f", {label} {r.params / reference - 1:+.1%}"
    return cell


def table(results: Sequence[Result]) -> str:
    header = (
        "| model | exporter | variant | ops | compared | mismatch | unresolved | uncosted | all MACs "
        "| dense MACs | torch MACs | error | params vs stored, torch | rebind: MACs ratio, shapes | s |"
    )
    lines = [header, "|" + " --- |" * header.count(" | ") + " --- |"]
    for r in results:
        if r.archlint_error is not None:
            failed = f"**{r.archlint_error}**"
            uncosted = mismatch = unresolved = failed
        else:
            mismatch = str(len(r.shapes.mismatches))
            unresolved = str(len(r.shapes.unresolved))
            kinds = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in sorted(r.uncosted.items()))
            uncosted = f"{sum(r.uncosted.values())} ({kinds})" if r.uncosted else "0"
        compared = f"ORT failed: {r.ort_error}" if r.ort_error else str(r.shapes.compared)
        error = "-" if r.macs_error is None else f"{r.macs_error:+.1%}"
        cells = [
            r.name,
            r.exporter,
            r.variant,
            str(r.ops),
            compared,
            mismatch,
            unresolved,
            uncosted,
            _macs(r.total_macs),
            _macs(r.dense_macs),
            _macs(r.torch_macs),
            error,
            _params_cell(r),
            _rebind_cell(r),
            f"{r.seconds:.1f}",
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def _shape_text(shape: Any) -> str:
    return "None" if shape is None else "(" + ", ".join(str(d) for d in shape) + ")"


def details(results: Sequence[Result]) -> str:
    """The first mismatching and unresolved tensors of each model, then totals by op type."""
    lines: list[str] = []
    for r in results:
        rows = [("mismatch", row) for row in r.shapes.mismatches[:DETAILS]]
        rows += [("unresolved", row) for row in r.shapes.unresolved[:DETAILS]]
        rows += [("rebind mismatch", row) for row in r.rebind_shapes.mismatches[:DETAILS]]
        if not rows and not r.notes:
            continue
        lines.append(f"\n{r.name}:")
        lines += [f"  {note.strip()}" for note in r.notes]
        for kind, (name, op, ort_shape, archlint_shape) in rows:
            lines.append(
                f"  {kind:<15} {op:<18} {name[:60]:<60} ORT {_shape_text(ort_shape):<18} "
                f"archlint {_shape_text(archlint_shape)}"
            )
    by_op: Counter[tuple[str, str]] = Counter()
    uncosted: Counter[str] = Counter()
    for r in results:
        by_op.update(("mismatch", row[1]) for row in r.shapes.mismatches)
        by_op.update(("unresolved", row[1]) for row in r.shapes.unresolved)
        uncosted.update(r.uncosted)
    if by_op:
        lines.append("\nTensors by producing op type, over all models:")
        lines += [f"  {kind:<10} {op:<24} {n}" for (kind, op), n in by_op.most_common()]
    if uncosted:
        lines.append("\nUncosted op types, over all models (nodes):")
        lines += [f"  {op:<28} {n}" for op, n in uncosted.most_common()]
    return "\n".join(lines)


LEGEND = """\
*compared*: tensors onnxruntime computed (every main-graph node output, graph optimizations off)
whose shapes archlint resolved too; *mismatch* and *unresolved* count those archlint got wrong
or left unknown. *all MACs*: archlint's FLOPs / 2 over every operator; *dense MACs*: the same
over Conv/Gemm/MatMul/Einsum, their quantized and fused forms and fused attention, plus the gate
products of LSTM/GRU/RNN; *torch MACs*: `torch.utils.flop_counter.FlopCounterMode` / 2 on the
same module and inputs, plus recurrent layers' gate products (the counter does not see fused
RNN kernels). *params*: archlint's, against the weight elements the file stores (float and
narrow-integer initializers and Constants, subgraphs included) and against torch's parameters
(buffers such as BatchNorm statistics excluded; exporters fold some). *rebind*: archlint at a
second binding (batch 4 and, where the export leaves it free, another length or resolution):
dense MACs at it over dense MACs at the first, against torch's ratio, and the shapes checked
against onnxruntime's there too; or the one-line refusal, where the model fixes a size."""


def totals(results: Sequence[Result]) -> str:
    """One line per must-hold figure, over every model."""
    compared = sum(r.shapes.compared + r.rebind_shapes.compared for r in results)
    mismatched = sum(len(r.shapes.mismatches) + len(r.rebind_shapes.mismatches) for r in results)
    unresolved = sum(len(r.shapes.unresolved) + len(r.rebind_shapes.unresolved) for r in results)
    uncosted = sum(sum(r.uncosted.values()) for r in results)
    errors = [abs(r.macs_error) for r in results if r.macs_error is not None]
    within = sum(e <= 0.01 for e in errors)
    failed = [r.name for r in results if r.archlint_error or r.ort_error]
    return "\n".join(
        [
            f"- tensors compared with onnxruntime's (both bindings): {compared}; "
            f"mismatches {mismatched}, unresolved {unresolved}",
            f"- uncosted operators: {uncosted}",
            f"- dense MACs within 1 % of torch's: {within} of {len(errors)} models "
            f"(largest difference {max(errors, default=0):.2%})",
            f"- models archlint or onnxruntime could not read: {len(failed)} {', '.join(failed)}".rstrip(),
        ]
    )


def page(
    results: Sequence[Result], skipped: Sequence[Mapping[str, Any]], command: str, versions: Mapping[str, str]
) -> str:
    """docs/corpus.md: the totals, the table, how to read it, and what did not build."""
    tools = ", ".join(f"{name} {version}" for name, version in versions.items())
    out = [
        "# The real-world corpus",
        "",
        f"Generated by `{command}` on {datetime.date.today().isoformat()}; do not edit by hand.",
        f"The models were built by `python benchmarks/corpus.py` with {tools}.",
        "",
        "Models written by others, exported by the tools people use: Hugging Face transformers",
        "architectures with random weights through both torch exporters, onnxruntime's transformer",
        "optimizer and quantizer (dynamic, static QDQ, static QOperator), exports at opsets 11 and",
        "13, and the patterns real exports contain. Each is checked against onnxruntime's own",
        "shapes and torch's counters at two bindings.",
        "",
        "## Totals",
        "",
        totals(results),
        "",
        "## Per model",
        "",
        table(results),
        "",
        LEGEND,
    ]
    if skipped:
        out += ["", "## Not built", ""]
        out += [f"- {e['name']}: {e['error']}" for e in skipped]
    return "\n".join(out) + "\n"


def _revision() -> str:
    """The checkout's commit, "+dirty" with uncommitted changes: which archlint the table is of."""
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty=+dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "(revision unknown)"
    return f"at {done.stdout.strip()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--json", type=Path, help="write every raw result to this file")
    parser.add_argument("--dir", type=Path, default=CORPUS_DIR, help=f"the corpus (default {CORPUS_DIR})")
    args = parser.parse_args(argv)
    manifest = args.dir / MANIFEST.name
    if not manifest.exists():
        parser.error(f"{manifest} does not exist: run python benchmarks/corpus.py first")
    entries = json.loads(manifest.read_text(encoding="utf-8"))["models"]
    names = set(args.only.split(",")) if args.only else None
    if names is not None and (unknown := names - {e["name"] for e in entries}):
        parser.error(f"not in the manifest: {', '.join(sorted(unknown))}")
    selected = [e for e in entries if (names is None or e["name"] in names)]
    skipped = [e for e in selected if "error" in e]
    results: list[Result] = []
    start = time.perf_counter()
    for entry in selected:
        if "error" in entry:
            continue
        print(f"{entry['name']} ...", file=sys.stderr, flush=True)
        try:
            results.append(check(entry, args.dir))
        except Exception as error:  # the model file itself is unreadable: say so, go on
            failed = Result(entry["name"], entry.get("exporter", "?"), entry.get("variant", "?"))
            failed.archlint_error = f"check failed: {_error(error)}"
            results.append(failed)
    elapsed = time.perf_counter() - start
    text = table(results)
    print(text)
    print(details(results))
    if skipped:
        print("\nNot built (see the manifest):")
        for e in skipped:
            print(f"  {e['name']}: {e['error']}")
    print(
        f"\n{LEGEND}\n\n{totals(results)}\n{len(results)} models in {elapsed:.0f}s; archlint {_revision()}."
    )
    if args.markdown:
        command = "python benchmarks/corpus_check.py " + " ".join(argv or sys.argv[1:])
        versions = json.loads(manifest.read_text(encoding="utf-8")).get("versions", {})
        args.markdown.write_text(page(results, skipped, command, versions), encoding="utf-8")
    if args.json:
        raw = [{**asdict(r), "macs_error": r.macs_error} for r in results]
        args.json.write_text(json.dumps(raw, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
