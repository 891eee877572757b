"""Read the model to fix with its external data, and write the fixed one without touching it.

The input is never written: an output path that is the input, or one of the input's external
data files, is refused before anything is read. A model that kept its weights in external data
is written the same way, to ``OUT.data`` next to ``OUT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx.external_data_helper import load_external_data_for_model

from archlint.errors import UsageError
from archlint.model.onnx_loader import read_proto, stored_tensors

# Tensors below this many bytes stay inside the .onnx file, as onnx's own writer does.
_EXTERNAL_THRESHOLD = 1024


@dataclass(frozen=True)
class LoadedModel:
    proto: onnx.ModelProto  # every weight in memory
    files: tuple[Path, ...]  # the model file and its external data files, resolved
    external: bool


def load(path: Path) -> LoadedModel:
    proto = read_proto(path)  # refuses external data outside the model's folder
    locations = {
        entry.value
        for tensor in stored_tensors(proto)
        if tensor.data_location == onnx.TensorProto.EXTERNAL
        for entry in tensor.external_data
        if entry.key == "location"
    }
    if locations:
        load_external_data_for_model(proto, str(path.parent))
    files = (path.resolve(), *((path.parent / loc).resolve() for loc in sorted(locations)))
    return LoadedModel(proto, files, bool(locations))


def refuse_overwrite(source: Path, out: Path, force: bool = False) -> None:
    """Exit 2 (UsageError) when ``out`` is the input model itself, or an existing file that
    ``force`` does not allow to replace."""
    if out.resolve() == source.resolve() or (out.exists() and source.exists() and out.samefile(source)):
        raise UsageError(f"-o {out}: that is the input model; archlint fix never overwrites its input")
    if out.exists() and not force:
        raise UsageError(f"-o {out}: the file exists; give --force to replace it")


def save(model: LoadedModel, proto: onnx.ModelProto, out: Path) -> list[Path]:
    """Write ``proto`` to ``out`` (and ``out.data`` for external-data models); return the paths."""
    data = out.with_name(out.name + ".data")
    written = [out, data] if model.external else [out]
    for path in written:
        if path.resolve() in model.files or (path.exists() and _same_as_any(path, model.files)):
            raise UsageError(f"-o {out}: would overwrite {path}, a file of the input model")
    try:
        if model.external:
            data.unlink(missing_ok=True)  # onnx appends to an existing data file
            onnx.save_model(
                proto,
                str(out),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=data.name,
                size_threshold=_EXTERNAL_THRESHOLD,
            )
        else:
            onnx.save_model(proto, str(out))
    except OSError as exc:
        raise UsageError(f"-o {out}: cannot write ({exc.strerror})") from None
    return written


def _same_as_any(path: Path, files: tuple[Path, ...]) -> bool:
    return any(f.exists() and path.samefile(f) for f in files)
