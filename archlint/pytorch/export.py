"""Build an ``nn.Module`` from its factory and export it to ONNX in memory, quietly.

The module is built with the factory's own initialisation (random weights: no checkpoint is read)
and put in eval mode; the exporter runs under ``torch.no_grad()`` on random inputs of the given
shapes. The dynamo exporter prints progress and warnings; they are kept off the user's terminal
and only the last line is reported if the export fails.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from archlint.errors import ModelLoadError, UsageError
from archlint.pytorch import origins

if TYPE_CHECKING:
    import onnx
    import torch

InputSpec = tuple[tuple[int, ...], str]  # shape and dtype name


def build(text: str, factory: Callable[..., object], kwargs: Mapping[str, Any]) -> torch.nn.Module:
    import torch

    try:
        module = factory(**kwargs)
    except Exception as exc:  # the user's code: any error is theirs to read, in one line
        raise ModelLoadError(f"{text}: building the model raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(module, torch.nn.Module):
        raise ModelLoadError(f"{text}: the factory returned a {type(module).__name__}, not an nn.Module")
    return module.eval()


def check_inputs(text: str, module: torch.nn.Module, inputs: Mapping[str, InputSpec]) -> None:
    """Every input names a ``forward`` parameter and every required parameter has a shape."""
    parameters = [
        p for p in inspect.signature(module.forward).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]  # fmt: skip
    names = [p.name for p in parameters]
    for name in inputs:
        if name not in names:
            raise UsageError(f"{text}: forward() has no parameter {name!r} (parameters: {', '.join(names)})")
    missing = [p.name for p in parameters if p.default is p.empty and p.name not in inputs]
    if missing:
        example = " ".join(f"--input {name}=1x3x224x224" for name in missing)
        raise UsageError(f"{text}: give the shape of every input of forward(), e.g. {example}")


def export(text: str, module: torch.nn.Module, inputs: Mapping[str, InputSpec]) -> onnx.ModelProto:
    import torch

    examples = {name: _example(shape, dtype) for name, (shape, dtype) in inputs.items()}
    chatter = io.StringIO()
    try:
        with _quiet(chatter), torch.no_grad():
            program = torch.onnx.export(module, (), kwargs=examples, dynamo=True, verbose=False)
    except Exception as exc:  # the exporter raises many types; the cause is in its message
        raise ModelLoadError(f"{text}: torch.onnx.export failed: {failure_reason(exc)}") from exc
    if program is None:
        raise ModelLoadError(f"{text}: torch.onnx.export returned no program")
    proto = program.model_proto
    if program.exported_program is not None:
        origins.annotate(proto, program.exported_program.graph)
    return proto


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failure_reason(exc: BaseException) -> str:
    """The innermost cause of an export failure, in one line without colour codes: the exporter
    wraps the real error ("Failed to export the model with torch.export ... step 1/3") and
    colours its messages for a terminal."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 16:
        chain.append(chain[-1].__cause__)
    for error in reversed(chain):
        lines = [line.strip() for line in _ANSI.sub("", str(error)).splitlines() if line.strip()]
        if lines:
            return f"{type(error).__name__}: {lines[0]}"
    return type(exc).__name__


def _example(shape: tuple[int, ...], dtype: str) -> torch.Tensor:
    import torch

    kind = getattr(torch, dtype)
    if kind.is_floating_point:
        return torch.randn(shape, dtype=kind)
    return torch.zeros(shape, dtype=kind)  # token ids and masks: 0 is valid for any vocabulary


@contextlib.contextmanager
def _quiet(sink: io.StringIO) -> Iterator[None]:
    """Progress prints, Python warnings and log records of the exporter go to ``sink`` or nowhere."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # torch's handlers hold the real stderr: redirecting misses them
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)
