"""``archlint fix MODEL -o OUT.onnx``: write a copy of the model with the selected fixes applied.

Safe fixes run by default, unsafe ones only with ``--unsafe-fixes``. With onnxruntime installed
every fix is verified (same outputs on seeded random inputs) and dropped if it fails; without it
the fixes are applied and the report says they were not verified. Exit code 0 whether or not
anything was fixed, 2 for bad input (raised as an ArchlintError).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from archlint.commands.common import model_shapes, targets
from archlint.config import Config, load_config

if TYPE_CHECKING:
    import onnx

    from archlint.fixes.verify import Verifier


def run(args: argparse.Namespace) -> int:
    from archlint.api import load_model
    from archlint.fixes import driver, files

    source, out = Path(args.model), Path(args.output)
    files.refuse_overwrite(source, out, args.force)
    config = load_config(args.config)
    chosen = driver.select([e for e in (args.select or "").split(",") if e.strip()])
    settings = driver.Settings(alignment=_alignment(args, config), tiny=_tiny(config))
    inputs, dims = model_shapes(args, config, args.model)
    resolved = load_model(args.model, inputs, dims)  # unreadable models and unbound shapes exit 2 here
    model = files.load(source)
    shapes = {name: resolved.graph.tensors[name].static_shape or () for name in resolved.graph.inputs}
    verifier = _verifier(model.proto, shapes)
    fixed, outcomes = driver.run_fixes(model.proto, chosen, settings, verifier, args.unsafe_fixes)
    for outcome in outcomes:
        print(outcome.line())
    written = files.save(model, fixed, out)
    applied = sum(o.status in ("applied", "unverified") for o in outcomes)
    print(f"wrote {', '.join(map(str, written))}: {applied} of {len(outcomes)} fixes applied")
    return 0


def _verifier(proto: onnx.ModelProto, shapes: Mapping[str, tuple[int, ...]]) -> Verifier | None:
    from archlint.fixes import verify

    version = verify.onnxruntime_version()
    if version is None:
        print("verification skipped: onnxruntime is not installed (pip install 'archlint[runtime]')")
        return None
    try:
        verifier = verify.Verifier(proto, verify.random_inputs(proto, shapes))
    except Exception as exc:  # onnxruntime's error types vary by build; its message says why
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"verification skipped: onnxruntime {version} cannot run the input model ({reason})")
        return None
    print(
        f"verifying each fix with onnxruntime {version}: outputs on seeded random inputs "
        f"must match within {verify.ATOL:g} + {verify.RTOL:g} x their largest magnitude"
    )
    return verifier


def _alignment(args: argparse.Namespace, config: Config) -> Callable[[str], int]:
    """The channel block pad-channels rounds to, per compute dtype: with several targets, a
    multiple of every one's block, so that the padded model is aligned wherever it runs."""
    profiles = targets(args, config)
    return lambda dtype: math.lcm(*(p.alignment_for(dtype) for p in profiles))


def _tiny(config: Config) -> float:
    """AL401's tiny_threshold as configured, so the fix flushes exactly what the rule reports."""
    from archlint.commands.check import rule_options
    from archlint.fixes.flush_denormals import TINY

    threshold = getattr(rule_options(config).get("AL401"), "tiny_threshold", TINY)
    return float(threshold)
