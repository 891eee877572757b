"""Which loader reads a reference: the plugins' (PyTorch model definitions, ...) first, then the
built-in ONNX loader; the first that claims a reference reads it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archlint.errors import ModelLoadError
from archlint.model.loader import Loader, ModelRequest
from archlint.plugins.registry import Registry

if TYPE_CHECKING:
    import onnx


def _read_onnx(reference: str) -> onnx.ModelProto:
    from archlint.model.onnx_loader import read_proto

    return read_proto(reference)


ONNX_LOADER = Loader("onnx", lambda reference: reference.lower().endswith(".onnx"), _read_onnx)


LOADERS: Registry[Loader] = Registry(
    "archlint_register_loaders", "model loader", keys=lambda loader: (loader.name,)
)


def registered_loaders() -> tuple[Loader, ...]:
    """Plugins' loaders first (they claim more specific references), then the ONNX one."""
    return (*(entry.item for entry in LOADERS.entries()), ONNX_LOADER)


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
