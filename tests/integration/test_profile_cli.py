"""`archlint profile` end to end: onnxruntime's kernels traced back to the model's nodes at every
optimization level, totals that add up, the JSON against its schema, findings with their
measured time, and bad input as one line with exit 2."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from archlint.cli import main
from archlint.measure.ort_mapping import ENGINE_OPS
from tests.builders import model, save, value

pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "archlint.profile.schema.json").read_text())
LEVELS = ("disabled", "basic", "extended", "all")
FAST = ("--runs", "3", "--warmup", "1")

Profile = Callable[..., dict[str, Any]]


def _weight(rng: np.random.Generator, name: str, *shape: int, positive: bool = False) -> onnx.TensorProto:
    data = rng.uniform(0.5, 1.5, shape) if positive else rng.standard_normal(shape) * 0.1
    return numpy_helper.from_array(data.astype(np.float32), name)


def conv_net() -> onnx.ModelProto:
    """Conv -> BN -> Relu -> Conv -> BN -> Add (residual) -> Relu -> pool -> Flatten -> Gemm.

    The 1x1 conv is memory-bound (AL501 finds it: a finding on a node with a kernel). The Flatten
    is unnamed: profile names it as archlint does, Flatten_8."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1] * 4, name="conv1"),
        helper.make_node("BatchNormalization", ["c1", "g1", "b1", "m1", "v1"], ["n1"], name="bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
        helper.make_node("BatchNormalization", ["c2", "g2", "b2", "m2", "v2"], ["n2"], name="bn2"),
        helper.make_node("Add", ["n2", "r1"], ["a"], name="residual"),
        helper.make_node("Relu", ["a"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1, name="fc"),
    ]
    inits = [_weight(rng, "w1", 32, 16, 3, 3), _weight(rng, "w2", 32, 32, 1, 1)]
    for i in (1, 2):
        inits += [_weight(rng, f"g{i}", 32, positive=True), _weight(rng, f"b{i}", 32)]
        inits += [_weight(rng, f"m{i}", 32), _weight(rng, f"v{i}", 32, positive=True)]
    inits += [_weight(rng, "wf", 10, 32), _weight(rng, "bf", 10)]
    return model(nodes, [value("x", [1, 16, 24, 24])], [value("y", None)], inits)


def transformer_block() -> onnx.ModelProto:
    """One post-LN encoder layer on a (1, seq, 16) input: attention, residual + LayerNorm, erf-GELU MLP."""
    rng = np.random.default_rng(1)
    width, hidden = 16, 64
    inits = [_weight(rng, n, width, width) for n in ("wq", "wk", "wv", "wo")]
    inits += [_weight(rng, n, width) for n in ("bq", "bk", "bv", "bo", "b2", "beta1", "beta2")]
    inits += [_weight(rng, n, width, positive=True) for n in ("gamma1", "gamma2")]
    inits += [
        _weight(rng, "w1", width, hidden),
        _weight(rng, "b1", hidden),
        _weight(rng, "w2", hidden, width),
    ]
    consts = {"scale": 0.25, "root2": float(np.sqrt(2.0)), "one": 1.0, "half": 0.5}
    inits += [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in consts.items()]
    node = helper.make_node
    nodes = [
        *(
            n
            for p in "qkv"
            for n in (
                node("MatMul", ["x", f"w{p}"], [f"{p}m"], name=f"{p}_proj"),
                node("Add", [f"{p}m", f"b{p}"], [p], name=f"{p}_bias"),
            )
        ),
        node("Transpose", ["k"], ["kt"], perm=[0, 2, 1], name="k_t"),
        node("MatMul", ["q", "kt"], ["s"], name="scores"),
        node("Mul", ["s", "scale"], ["ss"], name="scaled"),
        node("Softmax", ["ss"], ["pr"], axis=-1, name="softmax"),
        node("MatMul", ["pr", "v"], ["ctx"], name="context"),
        node("MatMul", ["ctx", "wo"], ["om"], name="o_proj"),
        node("Add", ["om", "bo"], ["o"], name="o_bias"),
        node("Add", ["x", "o"], ["res1"], name="residual1"),
        node("LayerNormalization", ["res1", "gamma1", "beta1"], ["ln1"], axis=-1, name="ln1"),
        node("MatMul", ["ln1", "w1"], ["h"], name="fc1"),
        node("Add", ["h", "b1"], ["hb"], name="fc1_bias"),
        node("Div", ["hb", "root2"], ["d"], name="gelu_div"),
        node("Erf", ["d"], ["e"], name="gelu_erf"),
        node("Add", ["e", "one"], ["e1"], name="gelu_add"),
        node("Mul", ["hb", "e1"], ["g"], name="gelu_mul"),
        node("Mul", ["g", "half"], ["gh"], name="gelu_half"),
        node("MatMul", ["gh", "w2"], ["f2"], name="fc2"),
        node("Add", ["f2", "b2"], ["f2b"], name="fc2_bias"),
        node("Add", ["ln1", "f2b"], ["res2"], name="residual2"),
        node("LayerNormalization", ["res2", "gamma2", "beta2"], ["y"], axis=-1, name="ln2"),
    ]
    return model(nodes, [value("x", [1, "seq", width])], [value("y", None)], inits)


MODELS: dict[str, tuple[Callable[[], onnx.ModelProto], tuple[str, ...]]] = {
    "conv": (conv_net, ()),
    "transformer": (transformer_block, ("--dim", "seq=8")),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("profile")
    return {name: save(build(), folder / f"{name}.onnx") for name, (build, _) in MODELS.items()}


@pytest.fixture(scope="module")
def profile(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Profile:
    """The JSON document of one model at one optimization level, run once per module."""
    cache: dict[tuple[str, str], dict[str, Any]] = {}
    folder = tmp_path_factory.mktemp("reports")

    def run(name: str, level: str = "all") -> dict[str, Any]:
        if (name, level) not in cache:
            out = folder / f"{name}-{level}.json"
            args = [*MODELS[name][1], *FAST, "--optimization", level, "--format", "json"]
            assert main(["profile", str(files[name]), *args, "--output-file", str(out)]) == 0
            cache[name, level] = json.loads(out.read_text())
        return cache[name, level]

    return run


def _model_nodes(path: Path) -> list[str]:
    """Node names as archlint gives them: the node's own, else OpType_index."""
    graph = onnx.load(str(path)).graph
    return [n.name or f"{n.op_type}_{i}" for i, n in enumerate(graph.node)]


def test_table_report_on_a_conv_net(files: dict[str, Path], tmp_path: Path) -> None:
    source = files["conv"]
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    out = tmp_path / "report.txt"
    assert main(["profile", str(source), *FAST, "--top", "3", "--output-file", str(out)]) == 0
    text = out.read_text()
    for heading in ("Totals", "Top 3 operators by measured time", "By op type", "predicted / measured"):
        assert heading in text
    assert "measured latency (median of session.run)" in text
    assert "onnxruntime" in text and "optimization all" in text
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before  # never modified


def test_table_report_on_a_transformer(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    args = ["profile", str(files["transformer"]), "--dim", "seq=8", *FAST, "--output-file", str(out)]
    assert main(args) == 0
    text = out.read_text()
    assert "Top 15 operators by measured time" in text and "ln1" in text


@pytest.mark.parametrize("name", MODELS)
def test_json_validates_and_adds_up(name: str, profile: Profile) -> None:
    document = profile(name)
    jsonschema.validate(document, SCHEMA)
    assert document["schema"] == "archlint.profile/1"
    assert (document["runs"], document["threads"], document["optimization"]) == (3, 1, "all")
    totals = document["totals"]
    assert (
        totals["measured_latency_min_s"] <= totals["measured_latency_s"] <= totals["measured_latency_max_s"]
    )
    assert totals["measured_latency_s"] > 0 and totals["measured_kernel_sum_s"] > 0
    assert totals["predicted_latency_s"] > 0
    assert totals["ratio"] == pytest.approx(totals["predicted_latency_s"] / totals["measured_latency_s"])
    # Each node's median against the median of the per-run sums: equal up to run-to-run noise.
    node_sum = sum(n["measured_s"] for n in document["nodes"])
    assert node_sum == pytest.approx(totals["measured_kernel_sum_s"], rel=0.5)
    by_type = sum(row["measured_s"] for row in document["by_op_type"])
    assert by_type == pytest.approx(node_sum)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", MODELS)
def test_every_model_node_is_measured_or_fused(
    name: str, level: str, profile: Profile, files: dict[str, Path]
) -> None:
    document = profile(name, level)
    jsonschema.validate(document, SCHEMA)
    nodes = {n["name"]: n for n in document["nodes"]}
    model_names = _model_nodes(files[name])
    for node_name in model_names:
        node = nodes[node_name]
        assert node["status"] in ("measured", "fused"), node
        if node["status"] == "fused" and node["fused_into"] is not None:
            assert nodes[node["fused_into"]]["status"] == "measured", node
    measured = [n for n in document["nodes"] if n["status"] == "measured"]
    assert measured and all(n["measured_s"] > 0 and n["kernel"] for n in measured)
    for node in document["nodes"]:
        if node["status"] == "engine-created":
            assert node["name"] not in model_names and node["predicted_s"] is None
            assert node["op_type"] in ENGINE_OPS or node["kernel"] == node["op_type"]
    if level == "disabled":
        assert all(nodes[n]["status"] == "measured" for n in model_names)
        assert len(nodes) == len(model_names)  # the engine adds nothing


def test_basic_folds_batch_norm_into_its_conv(profile: Profile) -> None:
    nodes = {n["name"]: n for n in profile("conv", "basic")["nodes"]}
    assert nodes["bn1"]["status"] == "fused" and nodes["bn1"]["fused_into"] == "conv1"
    assert nodes["bn2"]["fused_into"] == "conv2"
    conv = nodes["conv1"]
    assert conv["group_predicted_s"] == pytest.approx(conv["predicted_s"] + nodes["bn1"]["predicted_s"])
    assert conv["ratio"] == pytest.approx(conv["group_predicted_s"] / conv["measured_s"])
    assert nodes["Flatten_8"]["status"] == "measured"  # unnamed in the file, named as archlint names it


def test_all_fuses_activation_and_residual_into_the_convs(profile: Profile) -> None:
    nodes = {n["name"]: n for n in profile("conv", "all")["nodes"]}
    assert nodes["conv1"]["status"] == nodes["conv2"]["status"] == "measured"
    for fused in ("bn1", "relu1"):
        assert nodes[fused]["fused_into"] == "conv1"
    for fused in ("bn2", "residual", "relu2"):
        assert nodes[fused]["fused_into"] == "conv2"


def test_transformer_fusions_are_traced_to_the_model(profile: Profile) -> None:
    nodes = {n["name"]: n for n in profile("transformer", "extended")["nodes"]}
    # SkipLayerNormalization runs the residual Add (and the bias Add before it) with the norm.
    assert nodes["ln1"]["status"] == "measured" and nodes["ln1"]["kernel"] == "SkipLayerNormalization"
    assert nodes["residual1"]["fused_into"] == "ln1" and nodes["o_bias"]["fused_into"] == "ln1"
    # The erf-GELU and the bias before it are one kernel, traced through the tensor it writes.
    gelu = {nodes[n]["fused_into"] for n in ("fc1_bias", "gelu_div", "gelu_erf", "gelu_add", "gelu_mul")}
    assert gelu == {"gelu_half"} and nodes["gelu_half"]["status"] == "measured"


def test_a_findings_node_gets_its_measured_time(profile: Profile) -> None:
    document = profile("conv", "all")
    measured = {n["name"]: n["measured_s"] for n in document["nodes"] if n["status"] != "engine-created"}
    located = [f for f in document["findings"] if f["nodes"]]
    assert located, document["findings"]
    for finding in located:
        assert finding["measured_s"] == pytest.approx(sum(measured[n] for n in finding["nodes"]))
        assert finding["share"] == pytest.approx(
            finding["measured_s"] / document["totals"]["measured_kernel_sum_s"]
        )
    assert any(f["measured_s"] > 0 for f in located)
    shares = [f["measured_s"] for f in located]
    assert shares == sorted(shares, reverse=True)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archlint", "profile", *args], capture_output=True, text=True, check=False
    )


def _unrunnable(path: Path) -> Path:
    """A Relu followed by an operator of a domain onnxruntime has never heard of."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Mystery", ["r"], ["y"], domain="com.example", name="mystery"),
    ]
    proto = model(nodes, [value("x", [1, 4])], [value("y", [1, 4])], extra_opsets={"com.example": 1})
    return save(proto, path)


def test_bad_input_is_one_line_and_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    cases = [
        (("missing.onnx",), "missing.onnx: no such model file"),
        ((str(files["transformer"]), *FAST), "bind it with --dim seq=N"),
        ((str(_unrunnable(tmp_path / "mystery.onnx")), *FAST), "onnxruntime"),
        ((str(files["conv"]), "--target", "cpu,gpu"), "one target at a time"),
    ]
    for args, message in cases:
        result = _run(*args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_bad_counts_are_usage_errors(files: dict[str, Path]) -> None:
    for args in (("--runs", "0"), ("--threads", "x"), ("--optimization", "max")):
        result = _run(str(files["conv"]), *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr


def test_without_onnxruntime_it_says_which_extra_to_install(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from archlint.measure import runtime

    monkeypatch.setattr(runtime, "onnxruntime_version", lambda: None)
    assert main(["profile", str(files["conv"])]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "archlint[runtime]" in error
