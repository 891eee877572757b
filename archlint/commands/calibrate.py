"""``archlint calibrate``: measure this machine and print or write its hardware profile."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from archlint.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="F.yaml", help="write the profile to F (default: stdout)")
    parser.add_argument(
        "--threads", type=int, default=1, metavar="N", help="onnxruntime intra-op threads (default: 1)"
    )
    parser.add_argument("--name", help="the profile's name (default: the output file's stem, else host)")


def run(args: argparse.Namespace) -> int:
    from archlint.commands.progress import DelayedProgress
    from archlint.measure.calibration.run import calibrate
    from archlint.measure.calibration.writer import to_yaml
    from archlint.measure.runtime import require_onnxruntime

    require_onnxruntime("archlint calibrate")
    if args.threads < 1 or args.threads > (os.cpu_count() or 1) * 4:
        raise UsageError(f"--threads {args.threads}: give between 1 and a few times the core count")
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"-o {args.output}: no such directory {str(output.parent)!r}")
    name = args.name or (output.stem if output else "host")
    with DelayedProgress("calibrating") as progress:
        profile = calibrate(name, args.threads, progress)
    command = f"archlint calibrate --threads {args.threads}"
    text = to_yaml(profile, command)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output} ({profile.name}); use it with --target {output}", file=sys.stderr)
    return 0
