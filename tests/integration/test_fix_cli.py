"""`archlint fix` end to end: what it writes, what it refuses, what it prints, exit codes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from archlint.api import analyze
from archlint.cli import main
from archlint.fixes import driver, verify
from archlint.lint.checker import CheckOptions, check
from archlint.lint.registry import registered_rules
from archlint.lint.selection import Selection
from archlint.targets.registry import resolve
from tests.builders import model, save, value

Array = np.ndarray[Any, Any]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _denormal_conv_bn() -> onnx.ModelProto:
    """Conv (half its weights subnormal) -> BatchNormalization -> Relu -> Conv with 30 outputs -> Conv."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    w.reshape(-1)[::2] = np.float32(-1e-39)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1] * 4, name="conv"),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"], name="bn"),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("Conv", ["r", "w30"], ["t"], pads=[1] * 4, name="thirty"),
        helper.make_node("Conv", ["t", "wout"], ["y"], name="head"),
    ]
    params = [rng.standard_normal(16), rng.standard_normal(16), rng.standard_normal(16), rng.random(16) + 0.5]
    inits = [numpy_helper.from_array(w, "w")]
    inits += [numpy_helper.from_array(p.astype(np.float32), n) for n, p in zip("gbmv", params, strict=True)]
    inits.append(numpy_helper.from_array(rng.standard_normal((30, 16, 3, 3)).astype(np.float32), "w30"))
    inits.append(numpy_helper.from_array(rng.standard_normal((4, 30, 1, 1)).astype(np.float32), "wout"))
    return model(nodes, [value("x", ["batch", 8, 14, 14])], [value("y", None)], inits)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return save(_denormal_conv_bn(), tmp_path / "model.onnx")


def _al401(path: Path) -> int:
    analysis = analyze(path, [resolve("cpu")])
    return len(check(analysis, registered_rules(), CheckOptions(Selection(select=("AL401",)))))


def test_fix_writes_a_verified_copy_and_leaves_the_input_byte_identical(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(source)
    out = tmp_path / "fixed.onnx"
    assert main(["fix", str(source), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert _digest(source) == before
    assert "verifying each fix with onnxruntime" in printed
    assert "fold-batchnorm: 1 BatchNormalization folded into the Conv before it" in printed
    assert "flush-denormals: 576 weights subnormal or tiny" in printed and "outputs match" in printed
    assert "pad-channels: not run: unsafe fix" in printed
    assert _al401(source) == 1 and _al401(out) == 0
    fixed = onnx.load(str(out))
    assert [n.op_type for n in fixed.graph.node] == ["Conv", "Relu", "Conv", "Conv"]
    assert fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # still symbolic


def test_several_targets_pad_to_a_multiple_of_every_block(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "padded.onnx"
    assert main(["fix", str(source), "-o", str(out), "--unsafe-fixes", "--target", "t4,cortex-a53"]) == 0
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    assert weights["w30"].shape[0] == 32  # t4 has no fp32 block, cortex-a53 packs by 4: 30 -> 32


def test_unsafe_fixes_pad_only_when_asked(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "padded.onnx"
    assert main(["fix", str(source), "-o", str(out), "--unsafe-fixes", "--select", "AL101"]) == 0
    assert "pad-channels: 1 Conv padded with 2 zero output channels" in capsys.readouterr().out
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    assert weights["w30"].shape == (32, 16, 3, 3) and weights["wout"].shape == (4, 32, 1, 1)
    x = {"x": np.random.default_rng(0).standard_normal((1, 8, 14, 14)).astype(np.float32)}
    want, got = verify.run(onnx.load(str(source)), x), verify.run(onnx.load(str(out)), x)
    np.testing.assert_allclose(got["y"], want["y"], rtol=1e-4, atol=1e-4)


def test_output_equal_to_the_input_is_refused(source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _digest(source)
    assert main(["fix", str(source), "-o", str(source)]) == 2
    assert main(["fix", str(source), "-o", str(source.parent / "." / source.name)]) == 2
    assert "never overwrites its input" in capsys.readouterr().err
    assert _digest(source) == before


def test_a_link_to_the_input_is_refused(source: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.onnx"
    link.hardlink_to(source)
    assert main(["fix", str(source), "-o", str(link)]) == 2


def test_nothing_to_fix_exits_0_and_still_writes_the_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = model([helper.make_node("Relu", ["x"], ["y"])], [value("x", [1, 4])], [value("y", None)])
    source = save(clean, tmp_path / "clean.onnx")
    out = tmp_path / "out.onnx"
    assert main(["fix", str(source), "-o", str(out)]) == 0
    assert "fold-batchnorm: nothing to fix" in capsys.readouterr().out
    assert onnx.load(str(out)).graph.node[0].op_type == "Relu"


@pytest.mark.parametrize(
    "args",
    [
        ["fix", "missing.onnx", "-o", "out.onnx"],
        ["fix", "{source}", "-o", "out.onnx", "--select", "AL999"],
        ["fix", "{source}", "-o", "out.onnx", "--dim", "nosuch=2"],
        ["fix", "{source}", "-o", "out.onnx", "--target", "nosuch"],
    ],
)
def test_bad_input_exits_2(source: Path, tmp_path: Path, args: list[str]) -> None:
    argv = [a.format(source=source) for a in args]
    argv[argv.index("-o") + 1] = str(tmp_path / "out.onnx")
    assert main(argv) == 2
    assert not (tmp_path / "out.onnx").exists()


def test_a_fix_that_changes_outputs_is_not_written(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def scale_first_weight(proto: onnx.ModelProto, settings: driver.Settings) -> tuple[int, str]:
        tensor = next(t for t in proto.graph.initializer if t.name == "wout")
        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * 1.5, "wout"))
        return 1, "scaled a weight"

    broken = driver.Fix("broken", ("AL999",), "safe", scale_first_weight)
    monkeypatch.setattr(driver, "FIXES", (*driver.FIXES, broken))
    out = tmp_path / "fixed.onnx"
    assert main(["fix", str(source), "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("broken:")] == [
        next(line for line in lines if line.startswith("broken: not applied: output 'y' differs by up to"))
    ]
    written = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    original = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(source)).graph.initializer}
    assert np.array_equal(written["wout"], original["wout"])


def test_without_onnxruntime_verification_is_skipped(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(verify, "onnxruntime_version", lambda: None)
    assert main(["fix", str(source), "-o", str(tmp_path / "fixed.onnx")]) == 0
    printed = capsys.readouterr().out
    assert "verification skipped: onnxruntime is not installed" in printed
    assert "(not verified)" in printed


def test_external_data_is_written_next_to_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    source = folder / "model.onnx"
    onnx.save(_denormal_conv_bn(), str(source), save_as_external_data=True, location="weights.bin")
    before = {p.name: _digest(p) for p in folder.iterdir()}
    out = tmp_path / "out" / "fixed.onnx"
    out.parent.mkdir()
    assert main(["fix", str(source), "-o", str(out)]) == 0
    assert {p.name: _digest(p) for p in folder.iterdir()} == before
    assert "fixed.onnx.data" in capsys.readouterr().out
    assert (out.parent / "fixed.onnx.data").is_file()
    assert _al401(out) == 0
    assert _al401(source) == 1


def test_an_output_that_would_overwrite_the_input_s_external_data_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    onnx.save(_denormal_conv_bn(), str(source), save_as_external_data=True, location="fixed.onnx.data")
    before = _digest(tmp_path / "fixed.onnx.data")
    assert main(["fix", str(source), "-o", str(tmp_path / "fixed.onnx")]) == 2
    assert _digest(tmp_path / "fixed.onnx.data") == before


def test_the_configured_tiny_threshold_of_al401_is_what_gets_flushed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = np.array([1e-12, 1e-8, 0.5], np.float32)  # 1e-12 is above the default 1e-15
    proto = model([helper.make_node("Mul", ["x", "w"], ["y"])], [value("x", [3])], [value("y", None)])
    proto.graph.initializer.append(numpy_helper.from_array(weights, "w"))
    source = save(proto, tmp_path / "model.onnx")
    config = tmp_path / "archlint.yaml"
    config.write_text("rules:\n  denormal-weights:\n    tiny-threshold: 1.0e-10\n")
    out = tmp_path / "fixed.onnx"
    assert main(["fix", str(source), "-o", str(out), "--config", str(config)]) == 0
    assert "1 weight subnormal or tiny (|w| <= 1e-10) in 1 tensor" in capsys.readouterr().out
    assert numpy_helper.to_array(onnx.load(str(out)).graph.initializer[0]).tolist() == [0.0, weights[1], 0.5]


def test_an_existing_output_is_replaced_only_with_force(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "existing.onnx"
    out.write_bytes(b"someone's file")
    assert main(["fix", str(source), "-o", str(out)]) == 2
    assert "the file exists; give --force" in capsys.readouterr().err
    assert out.read_bytes() == b"someone's file"
    assert main(["fix", str(source), "-o", str(out), "--force"]) == 0
    assert onnx.load(str(out)).graph.node
