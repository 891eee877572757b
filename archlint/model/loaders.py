"""Model loaders: turn what the user names (a file, a model definition) into an ONNX proto.

The ONNX loader is built in; others (PyTorch model definitions) register through the
``archlint_register_loaders`` hook. The first loader that claims a reference reads it. A file
holds its graph; a model definition must be run to produce one, so a loader may take the whole
request (input shapes and dtypes, factory arguments) through ``load_request`` instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archlint.errors import ArchlintError, ModelLoadError

if TYPE_CHECKING:
    import onnx


@dataclass(frozen=True)
class ModelRequest:
    """What the user asked for: a reference and what a model definition needs to be built."""

    reference: str
    inputs: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    input_dtypes: Mapping[str, str] = field(default_factory=dict)  # by input name; default float32
    kwargs: Mapping[str, Any] = field(default_factory=dict)  # for a model factory
    values: Mapping[str, Any] = field(default_factory=dict)  # input values that steer control flow


@dataclass(frozen=True)
class Loader:
    name: str
    claims: Callable[[str], bool]  # whether this loader reads the reference
    load: Callable[[str], onnx.ModelProto]  # the model, never modified on disk
    # Loaders that build the model (and so need its input shapes) take the request instead.
    load_request: Callable[[ModelRequest], onnx.ModelProto] | None = None


def _read_onnx(reference: str) -> onnx.ModelProto:
    from archlint.model.onnx_loader import read_proto

    return read_proto(reference)


ONNX_LOADER = Loader("onnx", lambda reference: reference.lower().endswith(".onnx"), _read_onnx)


@functools.cache
def registered_loaders() -> tuple[Loader, ...]:
    from archlint.plugins.manager import call_register_hook

    loaders: list[Loader] = []

    def register(loader: Loader) -> None:
        if any(existing.name == loader.name for existing in loaders):
            raise ArchlintError(f"model loader {loader.name!r} is registered twice")
        loaders.append(loader)

    call_register_hook("archlint_register_loaders", "model loaders", lambda _label: register)
    return (*loaders, ONNX_LOADER)  # plugins first: they claim more specific references


def find_loader(reference: str) -> Loader | None:
    return next((loader for loader in registered_loaders() if loader.claims(reference)), None)


def load_proto(reference: str, request: ModelRequest | None = None) -> onnx.ModelProto:
    loader = find_loader(reference)
    if loader is not None and loader.load_request is not None:
        return loader.load_request(request or ModelRequest(reference))
    if loader is not None:
        return loader.load(reference)
    if reference.endswith((".pt", ".pth", ".pb", ".tflite", ".h5")):
        raise ModelLoadError(f"{reference}: not an ONNX model; export it to ONNX first")
    return ONNX_LOADER.load(reference)  # an unknown suffix: try it as ONNX and say if it is not
