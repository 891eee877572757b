"""Reading a hardware profile's YAML file into plain data.

A built-in profile's data is also kept in archlint's cache folder as JSON: importing a YAML
parser costs about 10 ms (PyYAML compiles its regular expressions at import), more than the rest
of resolving ``--target cpu``, and the built-in files only change with archlint itself. An entry
stores the YAML text it was made from and is used only when that text is the file's text, so an
upgraded or edited profile is parsed again; data JSON cannot hold exactly (keys that are not
strings) is never cached.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from archlint.errors import ProfileError
from archlint.user_cache import cache_dir, write_entry

_FORMAT = 1  # bump when what an entry stores changes


def read_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping a profile file holds; a clear error for a missing file or bad YAML."""
    return _parse(path, _read_text(path))


def read_builtin_mapping(path: str | Path) -> dict[str, Any]:
    """``read_mapping`` for one of archlint's own profiles, through the cache."""
    text = _read_text(path)
    entry = f"profile-{zlib.crc32(text.encode()):08x}-{len(text)}.json"
    cached = _cached(entry, text)
    if cached is not None:
        return cached
    data = _parse(path, text)
    try:
        encoded = json.dumps({"format": _FORMAT, "source": text, "data": data})
    except (TypeError, ValueError):  # a date, a float key: YAML-only data
        return data
    if json.loads(encoded)["data"] == data:
        write_entry(entry, encoded.encode())
    return data


def _cached(entry: str, text: str) -> dict[str, Any] | None:
    try:
        stored = json.loads((cache_dir() / entry).read_bytes())
    except (OSError, ValueError):  # absent, unreadable or cut short
        return None
    if not isinstance(stored, dict) or stored.get("format") != _FORMAT or stored.get("source") != text:
        return None
    data = stored.get("data")
    return data if isinstance(data, dict) else None


def _read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read hardware profile ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: a hardware profile is UTF-8 text") from None


def _parse(path: str | Path, text: str) -> dict[str, Any]:
    import yaml

    # libyaml's safe loader is ~10x faster than the pure-Python one; both build only plain data.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a hardware profile is a YAML mapping")
    return data
