"""Shapes as users write them: ``1x3x224x224``. Kept free of onnx so the CLI starts fast."""

from __future__ import annotations

from archlint.errors import UsageError


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1x3x224x224"`` -> (1, 3, 224, 224)."""
    try:
        dims = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"bad shape {text!r}: expected dims joined by 'x', like 1x3x224x224") from None
    if any(d < 0 for d in dims):
        raise UsageError(f"bad shape {text!r}: dimensions must be >= 0")
    return dims
