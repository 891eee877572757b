"""The Loader contract: what turns a reference the user names (a file, a model definition) into
an ONNX proto. A file holds its graph; a model definition must be run to produce one, so a loader
may take the whole request (input shapes and dtypes, factory arguments) through ``load_request``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
    """A model loader: the references it claims, and how it reads them into an ONNX proto."""

    name: str
    claims: Callable[[str], bool]  # whether this loader reads the reference
    load: Callable[[str], onnx.ModelProto]  # the model, never modified on disk
    # Loaders that build the model (and so need its input shapes) take the request instead.
    load_request: Callable[[ModelRequest], onnx.ModelProto] | None = None
