"""Tiny ONNX graphs built in code for the tests (no model files are committed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from onnx import helper

# The graph-building helpers are archlint's own, shared with the benchmarks and calibration.
from archlint.model.builder import OPSET, model, value, weight

__all__ = [
    "OPSET",
    "conv_model",
    "minimal_profile_yaml",
    "model",
    "require_chromium",
    "require_torch",
    "save",
    "value",
    "weight",
]


def save(proto: onnx.ModelProto, path: Path) -> Path:
    onnx.save(proto, str(path))
    return path


def conv_model(
    ic: int,
    oc: int,
    size: int,
    kernel: int,
    group: int = 1,
    pad: int | None = None,
    stride: int = 1,
    bias: bool = False,
    dilation: int = 1,
) -> onnx.ModelProto:
    """One Conv on a 1 x ic x size x size input; pad defaults to 'same' for odd kernels."""
    pad = kernel // 2 if pad is None else pad
    inputs = ["x", "w", "b"] if bias else ["x", "w"]
    node = helper.make_node(
        "Conv",
        inputs,
        ["y"],
        kernel_shape=[kernel, kernel],
        pads=[pad] * 4,
        strides=[stride] * 2,
        group=group,
        dilations=[dilation] * 2,
    )
    inits = [weight("w", (oc, ic // group, kernel, kernel))]
    if bias:
        inits.append(weight("b", (oc,)))
    return model([node], [value("x", [1, ic, size, size])], [value("y", None)], inits)


def minimal_profile_yaml(path: Path, peak: float = 2.86e12, bandwidth: float = 98.3e9, **extra: Any) -> Path:
    import yaml

    path.write_text(
        yaml.safe_dump(
            {
                "name": "minimal",
                "peak_flops": {"fp32": peak},
                "memory_bandwidth": bandwidth,
                **extra,
            }
        )
    )
    return path


def require_torch() -> Any:
    """torch, for the tests of PyTorch model definitions: skipped where the `torch` extra is not
    installed, but never in CI (CI=true), where a missing exporter must fail rather than pass."""
    import os

    import pytest

    if os.environ.get("CI"):
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
        import torch

        return torch
    module = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    return module


def require_chromium() -> str:
    """The chromium that the HTML report's browser tests drive through playwright: skipped where
    chromium or playwright is missing, but never in CI (CI=true), where it must fail instead.
    The system's chromium (Debian's package) is used, never a browser `playwright install` fetches."""
    import os
    import shutil

    import pytest

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if os.environ.get("CI"):
        import playwright.sync_api  # noqa: F401

        if path is None:
            pytest.fail("chromium is not installed (`apt-get install chromium`; .ci/run does it)")
        return path
    pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (test extra)")
    if path is None:
        pytest.skip("no chromium on PATH (`apt-get install chromium`)")
    return path
