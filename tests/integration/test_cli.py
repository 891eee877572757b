"""The archlint command line: analyze reports, JSON against its schema, exit codes, errors."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from archlint.cli import COMMANDS, _command_in, build_parser, main
from tests.builders import conv_model, minimal_profile_yaml, save
from tests.integration.test_light_models import LIGHT

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "archlint.analysis.schema.json").read_text())
RESNET = str(LIGHT / "light_resnet50.onnx")


@pytest.fixture
def profile(tmp_path: Path) -> str:
    return str(minimal_profile_yaml(tmp_path / "minimal.yaml"))


def test_analyze_json_validates_and_carries_the_totals(
    profile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", RESNET, "--target", profile, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    assert document["target"] == "minimal"
    totals = document["totals"]
    assert totals["macs"] == totals["flops"] // 2
    assert totals["predicted_latency_s"] == pytest.approx(
        sum(n["predicted_time_s"] for n in document["nodes"])
    )
    assert document["unknown_ops"] == []


def test_several_targets_give_one_document_each(
    profile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = minimal_profile_yaml(tmp_path / "fast.yaml", peak=1e15, bandwidth=1e12)
    other.write_text(other.read_text().replace("name: minimal", "name: fast"))
    assert main(["analyze", RESNET, "--target", f"{profile},{other}", "--format", "json"]) == 0
    documents = json.loads(capsys.readouterr().out)
    assert [d["target"] for d in documents] == ["minimal", "fast"]
    for document in documents:
        jsonschema.validate(document, SCHEMA)
    assert documents[1]["totals"]["predicted_latency_s"] < documents[0]["totals"]["predicted_latency_s"]


def test_analyze_table_to_a_file(profile: str, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    assert main(["analyze", RESNET, "--target", profile, "--output-file", str(out), "--top", "3"]) == 0
    text = out.read_text()
    assert "Top 3 operators by predicted time" in text
    assert "By op type" in text
    assert "predicted latency, batch 1" in text


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archlint", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "missing.onnx"], "missing.onnx: no such model file"),
        (["analyze", RESNET, "--target", "no-such-device"], "unknown target 'no-such-device'"),
        (["analyze", RESNET, "--input", "gpu_0/data_0=1x3xabc"], "bad shape '1x3xabc'"),
        (["analyze", RESNET, "--input", "nope=1x3x8x8"], "the model has no input 'nope'"),
        (["analyze", RESNET, "--dim", "batch"], "bad --dim 'batch': expected NAME=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = _run(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_not_an_onnx_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"\x00\xff definitely not protobuf" * 10)
    result = _run("analyze", str(bogus))
    assert result.returncode == 2
    assert "not a readable ONNX model" in result.stderr or "holds no ONNX graph" in result.stderr


def test_invalid_profile_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npeak_flops: {fp32: 1.0e12}\nmemory_bandwith: 1.0e11\n")
    result = _run("analyze", RESNET, "--target", str(bad))
    assert result.returncode == 2
    assert "memory_bandwith" in result.stderr or "memory_bandwidth" in result.stderr


def test_version_and_help_do_not_import_onnx() -> None:
    code = (
        "import sys; from archlint.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print('onnx' in sys.modules, 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("False False")


def test_analyzing_does_not_import_torch_or_onnxruntime(profile: str, tmp_path: Path) -> None:
    model = save(conv_model(8, 8, 16, 3), tmp_path / "small.onnx")
    code = (
        "import sys; from archlint.cli import main\n"
        f"main(['analyze', {str(model)!r}, '--target', {profile!r}, '--format', 'json'])\n"
        "print('torch' in sys.modules, 'onnxruntime' in sys.modules, file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr.strip() == "False False"


def test_the_input_model_is_never_modified(profile: str, tmp_path: Path) -> None:
    model = save(conv_model(8, 8, 16, 3), tmp_path / "small.onnx")
    before = model.read_bytes()
    assert (
        main(
            [
                "analyze",
                str(model),
                "--target",
                profile,
                "--input",
                "x=2x8x16x16",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert model.read_bytes() == before


def test_value_and_scalar_input_flags_pick_a_branch(
    profile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.test_resolution import _sample_rate_model

    path = str(save(_sample_rate_model(), tmp_path / "vad.onnx"))
    flags = ["--target", profile, "--format", "json", "--input", "sr=scalar"]
    assert main(["analyze", path, *flags, "--value", "sr=8000"]) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    assert [n["name"] for n in document["nodes"] if n["op_type"] == "Conv"] == ["rate/else_branch/Conv_0"]
    assert document["totals"]["flops_range"][0] == document["totals"]["flops_range"][1]
    assert main(["analyze", path, *flags]) == 0
    undecided = json.loads(capsys.readouterr().out)
    low, high = undecided["totals"]["flops_range"]
    assert low < high == undecided["totals"]["flops"]
    assert main(["analyze", path, "--value", "sr=fast"]) == 2
    assert "bad value 'fast'" in capsys.readouterr().err


def test_check_fails_on_a_model_it_could_not_cost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.rules.test_uncosted_operators import _with_custom_ops

    path = str(save(_with_custom_ops(2), tmp_path / "custom.onnx"))
    assert main(["check", path, "--target", "gpu,cpu", "--format", "json"]) == 1
    found = [d for d in json.loads(capsys.readouterr().out)["diagnostics"] if d["code"] == "AL002"]
    assert len(found) == 1 and found[0]["severity"] == "error"
    assert main(["check", path, "--target", "gpu", "--ignore", "AL002", "--select", "AL0"]) == 0


def test_the_command_exits_with_mains_code_after_atexit_handlers_and_all_its_output(
    profile: str, tmp_path: Path
) -> None:
    # The console script ends without interpreter teardown: nothing it owes may be lost. It
    # also runs with the cyclic garbage collector's thresholds raised: the handler reports them.
    model = save(conv_model(8, 8, 16, 3), tmp_path / "small.onnx")
    code = (
        "import atexit, gc, sys; "
        "atexit.register(lambda: print('atexit ran', gc.get_threshold()[0] >= 100_000, file=sys.stderr)); "
        "from archlint.cli import run; run()"
    )
    ok = subprocess.run(
        [sys.executable, "-c", code, "analyze", str(model), "--target", profile, "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["schema"].startswith("archlint.analysis/")  # all of it, flushed
    assert ok.stderr.strip() == "atexit ran True"
    bad = subprocess.run(
        [sys.executable, "-c", code, "analyze", str(tmp_path / "missing.onnx")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        f"archlint: error: {tmp_path / 'missing.onnx'}: no such model file",
        "atexit ran True",
    ]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_parser_built_for_one_command_reads_it_as_the_full_parser_does(command: str) -> None:
    # main builds only the running command's arguments: its help (every option, with its
    # default) must be the full parser's, and the top-level help must still list every command.
    def help_of(parser: argparse.ArgumentParser, *argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            parser.parse_args([*argv, "--help"])
        return out.getvalue()

    assert help_of(build_parser(command), command) == help_of(build_parser(), command)
    assert help_of(build_parser(command)) == help_of(build_parser())
    assert _command_in(["--debug", command, "x"]) == command
    assert _command_in(["--debug", "model.onnx"]) is None
