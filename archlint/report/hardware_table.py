"""``archlint hardware``: the profile list, or one profile with its sources."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from archlint.profiles import HardwareProfile
from archlint.report import units


def _rate(profile: HardwareProfile, key: str) -> str:
    value = profile.peak_flops.get(key)
    return units.count(value) if value else "-"


def render_all(profiles: list[HardwareProfile], console: Console) -> None:
    table = Table(title="Hardware profiles (FLOP/s, OP/s for int8)", title_justify="left")
    for column in (
        "name",
        "kind",
        "aliases",
        "fp32",
        "fp16",
        "int8",
        "bandwidth",
        "ridge fp32",
        "memory",
    ):
        table.add_column(
            column, justify="left" if column in ("name", "kind", "aliases") else "right"
        )
    for p in sorted(profiles, key=lambda p: (p.kind, p.name)):
        memory = units.size(p.device_memory_bytes) if p.device_memory_bytes else "-"
        table.add_row(
            p.name,
            p.kind,
            ", ".join(p.aliases),
            _rate(p, "fp32"),
            _rate(p, "fp16"),
            _rate(p, "int8"),
            f"{units.count(p.memory_bandwidth)}B/s",
            f"{p.ridge_point:.1f}",
            memory,
        )
    console.print(table)


def render_one(profile: HardwareProfile, console: Console) -> None:
    console.print(f"[bold]{profile.name}[/] ({profile.kind}) {profile.description}")
    table = Table(show_header=False)
    table.add_column("field")
    table.add_column("value")
    for key, value in profile.model_dump(
        exclude={"name", "kind", "description", "sources"}
    ).items():
        if value not in (None, {}, (), [], ""):
            table.add_row(key, str(value))
    console.print(table)
    for source in profile.sources:
        console.print(
            f"  [dim]{source.figure}:[/] {source.source}"
            + (f" <{source.url}>" if source.url else "")
        )
