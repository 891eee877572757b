"""``archlint hardware``: the profile list, or one profile with the source of every figure."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from archlint import units
from archlint.targets.profile import HardwareProfile, as_data


def _rate(profile: HardwareProfile, key: str) -> str:
    value = profile.peak_flops.get(key)
    return units.count(value) if value else "-"


def render_all(profiles: list[HardwareProfile], console: Console) -> None:
    table = Table(
        title="Hardware profiles (peak FLOP/s; OP/s for int8)", title_justify="left", box=box.SIMPLE
    )
    left = ("name (alias)", "kind")
    for column in (*left, "fp32", "fp16", "int8", "bandwidth", "memory"):
        table.add_column(column, justify="left" if column in left else "right", no_wrap=True)
    for p in sorted(profiles, key=lambda p: (p.kind, p.name)):
        memory = units.size(p.device_memory_bytes) if p.device_memory_bytes else "-"
        name = f"{p.name} ({', '.join(p.aliases)})" if p.aliases else p.name
        table.add_row(
            name, p.kind, _rate(p, "fp32"), _rate(p, "fp16"), _rate(p, "int8"),
            f"{units.count(p.memory_bandwidth)}B/s", memory,
        )  # fmt: skip
    console.print(table)
    console.print("`archlint hardware NAME` shows one profile, its ridge point and its sources.")


def _value(key: str, value: object) -> str:
    if key == "peak_flops" and isinstance(value, dict):
        return ", ".join(f"{k} {units.count(v)}" for k, v in value.items())
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(k, v) if isinstance(v, dict) else v}" for k, v in value.items())
    if key in ("memory_bandwidth",) and isinstance(value, float):
        return f"{units.count(value)}B/s"
    if key.endswith("_bytes") and isinstance(value, float):
        return units.size(value)
    if key == "op_overhead_s" and isinstance(value, float):
        return units.seconds(value)
    return str(value)


def render_one(profile: HardwareProfile, console: Console) -> None:
    console.print(f"[bold]{profile.name}[/] ({profile.kind}) {profile.description}")
    console.print(f"ridge point {profile.ridge_point:.1f} FLOP/B (fp32)")
    table = Table(show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value")
    # As plain data: enum keys (op classes) print as their names, as in the YAML.
    for key, value in as_data(profile).items():
        if key not in ("name", "kind", "description", "sources") and value not in (None, {}, (), [], ""):
            table.add_row(key, _value(key, value))
    console.print(table)
    console.print("[bold]sources[/]")
    for source in profile.sources:
        url = f" <{source.url}>" if source.url else ""
        console.print(f"  [dim]{source.figure}:[/] {source.source}{url}")
