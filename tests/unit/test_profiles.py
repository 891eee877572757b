"""Hardware profiles: the built-ins validate and cite sources; user profiles by path; errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from archlint import hookimpl
from archlint.errors import ProfileError
from archlint.plugins.manager import plugin_manager
from archlint.targets.profile import HardwareProfile, load_profile
from archlint.targets.registry import PROFILES, registered_profiles, resolve, resolve_many
from archlint.validation import validate

REQUIRED_DEVICES = {
    "h100",
    "a100",
    "v100",
    "t4",
    "p40",
    "rtx-a4000",
    "jetson-xavier",
    "jetson-orin",
    "cortex-a53",
    "cortex-a76",
    # the devices people deploy to: GeForce and inference GPUs, edge and laptop NPUs, servers
    "rtx-3090",
    "rtx-4090",
    "rtx-5090",
    "l4",
    "l40s",
    "a10",
    "jetson-orin-nano",
    "apple-m4-ane",
    "snapdragon-x-elite-npu",
    "intel-lunar-lake-npu",
    "ryzen-ai-xdna2",
    "rk3588-npu",
    "hailo-8",
    "edge-tpu",
    "epyc-9654",
    "xeon-8480",
}


def test_at_least_twelve_built_in_profiles_with_every_required_device() -> None:
    profiles = registered_profiles()
    assert len(profiles) >= 12
    assert set(profiles) >= REQUIRED_DEVICES
    kinds = [p.kind for p in profiles.values()]
    assert kinds.count("npu") >= 2
    assert (
        sum(1 for p in profiles.values() if p.kind == "cpu" and "x86" in (p.description + p.name).lower())
        >= 2
    )


@pytest.mark.parametrize("alias", ["gpu", "cpu", "arm", "npu"])
def test_aliases_resolve_to_a_profile_of_that_kind(alias: str) -> None:
    profile = resolve(alias)
    assert alias in profile.aliases
    assert profile.kind == ("cpu" if alias == "arm" else alias)


def test_npu_means_the_rk3588_and_hisilicon_keeps_only_its_own_name() -> None:
    assert resolve("npu").name == "rk3588-npu"
    assert registered_profiles()["hisilicon-nnie"].aliases == ()
    assert resolve("raspberry-pi-5").name == "cortex-a76"


@pytest.mark.parametrize("name", sorted(registered_profiles()))
def test_every_figure_has_a_source(name: str) -> None:
    profile = registered_profiles()[name]
    assert profile.sources, f"{name} cites no source"
    cited = " ".join(s.figure for s in profile.sources)
    for field in ("peak_flops", "memory_bandwidth"):
        assert field in cited, f"{name}: no source for {field}"
    assert all(s.source.strip() for s in profile.sources)


def test_minimal_user_profile_is_a_pure_roofline(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: my-device\npeak_flops: {fp32: 2.86e12}\nmemory_bandwidth: 98.3e9\n")
    profile = resolve(str(path))
    assert profile.peak_for("fp32") == 2.86e12
    assert profile.memory_bandwidth == 98.3e9
    assert profile.op_overhead_s == 0
    assert profile.alignment_for("fp32") == 1
    assert profile.ridge_point == pytest.approx(2.86e12 / 98.3e9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\npeak_flops: {fp32: 1.0e12}\nmemory_bandwith: 1.0e11\n", "memory_bandwith"),
        ("name: x\npeak_flops: {fp23: 1.0e12}\nmemory_bandwidth: 1.0e11\n", "unknown dtype key"),
        ("name: x\npeak_flops: {}\nmemory_bandwidth: 1.0e11\n", "at least one peak rate"),
        ("name: x\npeak_flops: {fp32: -1}\nmemory_bandwidth: 1.0e11\n", "peak_flops.fp32"),
        ("- just\n- a list\n", "a hardware profile is a YAML mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_profiles_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_several_targets_and_unknown_names() -> None:
    assert [p.name for p in resolve_many("a100, t4")] == ["a100", "t4"]
    with pytest.raises(ProfileError, match=r"unknown target 'tpu-v9'; known targets: .*a100"):
        resolve("tpu-v9")


class _ClashingPlugin:
    """A third-party plugin that registers a profile under a built-in's name."""

    @hookimpl
    def archlint_register_hardware(self, register: Callable[[HardwareProfile], None]) -> None:
        register(
            validate(HardwareProfile, {"name": "t4", "peak_flops": {"fp32": 1.0}, "memory_bandwidth": 1.0})
        )


def test_duplicate_names_are_rejected() -> None:
    manager = plugin_manager()
    manager.register(_ClashingPlugin(), name="clash")
    PROFILES.clear()
    try:
        # The error names both sides: the plugin and its profile, and the one that has the name.
        with pytest.raises(ProfileError, match=r"hardware profile 't4' uses 't4', which .* registered"):
            registered_profiles()
    finally:
        manager.unregister(name="clash")
        PROFILES.clear()


def test_a_file_that_is_no_profile_is_not_echoed_into_the_error(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$saltsecrethash:19000:0:99999:7:::\n")
    with pytest.raises(ProfileError) as raised:
        load_profile(secret)
    assert "saltsecrethash" not in str(raised.value) and "no profile field" in str(raised.value)
