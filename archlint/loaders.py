"""Model loaders: turn what the user names (a file, a model definition) into an ONNX proto.

The ONNX loader is built in; others (PyTorch model definitions) register through the
``archlint_register_loaders`` hook. The first loader that claims a reference reads it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archlint.errors import ArchlintError, ModelLoadError

if TYPE_CHECKING:
    import onnx


@dataclass(frozen=True)
class Loader:
    name: str
    claims: Callable[[str], bool]  # whether this loader reads the reference
    load: Callable[[str], onnx.ModelProto]  # the model, never modified on disk


def _read_onnx(reference: str) -> onnx.ModelProto:
    from archlint.onnx_loader import read_proto

    return read_proto(reference)


ONNX_LOADER = Loader("onnx", lambda reference: reference.lower().endswith(".onnx"), _read_onnx)


@functools.cache
def registered_loaders() -> tuple[Loader, ...]:
    from archlint.plugins import call_register_hook

    loaders: list[Loader] = []

    def register(loader: Loader) -> None:
        if any(existing.name == loader.name for existing in loaders):
            raise ArchlintError(f"model loader {loader.name!r} is registered twice")
        loaders.append(loader)

    call_register_hook("archlint_register_loaders", "model loaders", lambda _label: register)
    return (*loaders, ONNX_LOADER)  # plugins first: they claim more specific references


def load_proto(reference: str) -> onnx.ModelProto:
    for loader in registered_loaders():
        if loader.claims(reference):
            return loader.load(reference)
    if reference.endswith((".pt", ".pth", ".pb", ".tflite", ".h5")):
        raise ModelLoadError(f"{reference}: not an ONNX model; export it to ONNX first")
    return ONNX_LOADER.load(reference)  # an unknown suffix: try it as ONNX and say if it is not
