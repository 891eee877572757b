"""Shapes as users write them: ``1x3x224x224``. Kept free of onnx so the CLI starts fast."""

from __future__ import annotations

from archlint.errors import UsageError


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1x3x224x224"`` -> (1, 3, 224, 224); ``""`` or ``"scalar"`` -> () (a rank-0 input)."""
    if text.strip().lower() in ("", "scalar"):
        return ()
    try:
        dims = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"bad shape {text!r}: expected dims joined by 'x', like 1x3x224x224") from None
    if any(d < 0 or d > 2**31 - 1 for d in dims):
        raise UsageError(f"bad shape {text!r}: dimensions must be between 0 and 2**31 - 1")
    return dims


def parse_value(text: str) -> int | float | list[int | float]:
    """``"16000"`` -> 16000; ``"1,2,3"`` -> [1, 2, 3]: an input's value, for ``--value``."""
    parts = [part.strip() for part in text.split(",")]
    try:
        numbers = [float(p) if any(c in p.lower() for c in ".en") else int(p) for p in parts]
    except ValueError:
        raise UsageError(f"bad value {text!r}: expected a number or numbers joined by ','") from None
    return numbers[0] if len(numbers) == 1 else numbers
