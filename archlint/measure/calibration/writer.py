"""A calibrated profile as YAML: the same file format as hardware/*.yaml."""

from __future__ import annotations

import yaml

from archlint.targets.profile import HardwareProfile, as_data


def to_yaml(profile: HardwareProfile, command: str) -> str:
    data = as_data(profile, exclude_defaults=True)
    header = f"# Measured on this machine by `{command}`; load it with --target PATH.yaml.\n"
    return header + yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=True)
