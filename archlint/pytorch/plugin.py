"""The built-in plugin that registers the PyTorch loader: ``models.py::Net``, ``pkg.models:net``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from archlint import hookimpl
from archlint.model.loader import Loader, ModelRequest
from archlint.pytorch import reference

if TYPE_CHECKING:
    import onnx


def load(request: ModelRequest) -> onnx.ModelProto:
    """The exported model, from the cache when nothing it depends on has changed."""
    from archlint.model.source_locations import SOURCE_MAP_KEY
    from archlint.pytorch import cache, export
    from archlint.pytorch.source_map import module_lines

    parsed = _parse(request.reference)
    module = reference.import_module(parsed)
    factory = reference.factory(parsed, module)
    inputs = {
        name: (shape, request.input_dtypes.get(name, "float32")) for name, shape in request.inputs.items()
    }
    entry = cache.key(parsed.text, cache.project_files(module), request.kwargs, inputs)
    cached = cache.read(entry)
    if cached is not None:
        return cached
    net = export.build(parsed.text, factory, request.kwargs)
    export.check_inputs(parsed.text, net, inputs)
    proto = export.export(parsed.text, net, inputs)
    # Stored in the proto so that a cached export still knows its source lines.
    proto.metadata_props.add(key=SOURCE_MAP_KEY, value=json.dumps(module_lines(net), sort_keys=True))
    cache.write(entry, proto)
    return proto


def _parse(text: str) -> reference.Reference:
    parsed = reference.parse(text)
    if parsed is None:  # the loader only receives references it claimed
        raise ValueError(f"not a PyTorch model reference: {text!r}")
    return parsed


PYTORCH_LOADER = Loader("pytorch", reference.claims, lambda text: load(ModelRequest(text)), load_request=load)


@hookimpl
def archlint_register_loaders(register: Callable[[Loader], None]) -> None:
    register(PYTORCH_LOADER)
