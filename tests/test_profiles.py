"""Station profiles: defaults, loading TOML, and errors that name the file, the field and the line."""

from __future__ import annotations

import random
import tomllib
from pathlib import Path

import msgspec
import pytest

from fleet.actors.station import load_profile
from fleet.actors.station.v201.device_model import catalog_for
from fleet.ocpp.v201 import Connector, IdTokenEnum, Measurand
from fleet.profiles import (
    ProfileError,
    StationProfile,
    draw,
    find_line,
    render_pattern,
    station_password,
)
from fleet.run.fleetfile import shipped_profiles_dir

REPO = Path(__file__).resolve().parents[1]

FULL = """
name = "public-ac-post"
description = "Two 22 kW AC EVSEs"
heartbeat_interval = 120
seq_no = "transaction"

[identity]
vendor = "ACME"
model = "AC-Post-22"
firmware_version = "2.4.1"
serial_number = "ACP-{station_id}"

[security]
profile = 2
password = "secret-{station_id}-0123456789"

[retry_backoff]
wait_minimum = 3
repeat_times = 4
random_range = 2

[sampled_data]
tx_updated_interval = 30
tx_updated_measurands = ["Energy.Active.Import.Register", "SoC"]

[[evses]]
max_power = 22000
[[evses.connectors]]
type = "cType2"
[[evses.connectors]]
type = "sType2"

[[evses]]
max_power = 50000
current_type = "DC"
voltage = 400
[[evses.connectors]]
type = "cCCS2"

[vehicle]
battery_capacity = [40000, 90000]
initial_soc = 15

[sessions]
idle_time = [300, 1800]
authorization_failure_share = 0.05
id_tokens = [
    { id_token = "A-1", type = "ISO14443", weight = 3 },
    { id_token = "B-2", type = "eMAID" },
]

[variables]
"TxCtrlr.EVConnectionTimeOut" = 90
"AuthCtrlr.LocalPreAuthorize" = true
"OCPPCommCtrlr.MessageTimeout[Default]" = 45

[[custom_variables]]
component = "VendorCtrlr"
variable = "Colour"
value = "blue"
data_type = "OptionList"
values_list = "blue,green"
"""


def write(tmp_path: Path, text: str, name: str = "profile.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_a_single_evse_ac_wallbox(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, ""))
    assert profile == StationProfile()
    assert len(profile.evses) == 1 and profile.evses[0].current_type == "AC"
    assert profile.evses[0].connectors[0].type == Connector.C_TYPE2
    assert profile.sessions.enabled and profile.security.profile == 1
    assert station_password(profile, "CS7") == "fleet-CS7-password"


def test_full_profile_loads(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, FULL))
    assert profile.name == "public-ac-post" and profile.seq_no == "transaction"
    assert [len(e.connectors) for e in profile.evses] == [2, 1]
    assert profile.evses[1].current_type == "DC" and profile.evses[1].connectors[0].type == Connector.C_CCS2
    assert profile.sampled_data.tx_updated_measurands == [Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, Measurand.SOC]
    assert profile.sessions.id_tokens[1].type == IdTokenEnum.E_MAID
    assert profile.vehicle.initial_soc == 15
    assert station_password(profile, "X") == "secret-X-0123456789"
    assert render_pattern(profile.identity.serial_number, "X") == "ACP-X"
    catalog = catalog_for(profile)
    by_name = {(d.component, d.name, d.instance): d for d in catalog}
    assert by_name[("TxCtrlr", "EVConnectionTimeOut", None)].default == "90"
    assert by_name[("OCPPCommCtrlr", "MessageTimeout", "Default")].default == "45"
    assert by_name[("OCPPCommCtrlr", "HeartbeatInterval", None)].default == "120"
    assert by_name[("VendorCtrlr", "Colour", None)].default == "blue"
    assert sum(1 for d in catalog if d.component == "Connector" and d.name == "ConnectorType") == 3
    assert catalog_for(load_profile(write(tmp_path, FULL, "again.toml"))) is catalog  # shared by equal profiles


def test_shipped_profiles_load() -> None:
    shipped = [p for p in (REPO / "profiles").glob("*.toml") if "[[group]]" not in p.read_text()]  # not fleet files
    assert len(shipped) >= 3
    for path in shipped:
        load_profile(path)
    # Profile names in fleet files and the control API resolve against the shipped directory.
    assert shipped_profiles_dir() == REPO / "profiles"


def test_an_installed_fleet_finds_the_profiles_its_wheel_carries(tmp_path: Path) -> None:
    """A wheel has no ``profiles/`` beside the package: it carries them as package data under
    ``fleet/shipped_profiles`` (in the source tree a link to ``profiles/``), which pyproject.toml names."""
    link = REPO / "fleet" / "shipped_profiles"
    assert link.is_dir() and sorted(p.name for p in link.glob("*.toml")) == sorted(
        p.name for p in (REPO / "profiles").glob("*.toml"))
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "shipped_profiles/*.toml" in package_data["fleet"]
    installed = tmp_path / "site-packages" / "fleet"  # what pip makes of the wheel: no profiles/ beside it
    (installed / "shipped_profiles").mkdir(parents=True)
    assert shipped_profiles_dir(installed) == installed / "shipped_profiles"


def test_wrong_type_names_file_field_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\nheartbeat_interval = "often"\n')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"{path}:2: ")
    assert "`$.heartbeat_interval`" in message and "Expected `int`, got `str`" in message


def test_nested_wrong_value_names_the_array_element(tmp_path: Path) -> None:
    path = write(tmp_path, "[[evses]]\nmax_power = 11000\n\n[[evses]]\nphases = 3\nmax_power = -5\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert f"{path}:6:" in message and "`$.evses[1].max_power`" in message and "Expected `float` > 0.0" in message


def test_unknown_field_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[[evses]]\nmax_power = 11000\nmax_powr = 3\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert f"{path}:3:" in message and "`$.evses[0]`" in message and "unknown field `max_powr`" in message


def test_bad_enum_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[[evses]]\n[[evses.connectors]]\ntype = "cFoo"\n')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert f"{path}:3:" in message and "`$.evses[0].connectors[0].type`" in message
    assert "Invalid enum value 'cFoo'" in message


def test_bad_range_and_shares(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"`\$\.sessions`: .*`idle_time`: expected \[min, max\] with min <= max"):
        load_profile(write(tmp_path, "[sessions]\nidle_time = [600, 60]\n"))
    with pytest.raises(ProfileError, match=r"`\$\.sessions\.authorization_failure_share`"):
        load_profile(write(tmp_path, "[sessions]\nauthorization_failure_share = 1.5\n"))
    with pytest.raises(ProfileError, match=r"`\$\.vehicle`: .*`initial_soc`: expected values <= 100"):
        load_profile(write(tmp_path, "[vehicle]\ninitial_soc = [10, 120]\n"))
    with pytest.raises(ProfileError, match=r"`\$\.evses`"):
        load_profile(write(tmp_path, "evses = []\n"))


def test_bad_device_model_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, '[variables]\n"TxCtrlr.Nope" = 1\n')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert f"{path}:2:" in str(info.value) and '`$.variables."TxCtrlr.Nope"`' in str(info.value)
    with pytest.raises(ProfileError, match=r"expected a integer value, got 'soon'"):
        load_profile(write(tmp_path, '[variables]\n"OCPPCommCtrlr.HeartbeatInterval" = "soon"\n'))
    with pytest.raises(ProfileError, match=r"from .*EVConnected"):
        load_profile(write(tmp_path, '[variables]\n"TxCtrlr.TxStartPoint" = "Whenever"\n'))
    with pytest.raises(ProfileError, match=r'expected a name like "Component.Variable"'):
        load_profile(write(tmp_path, '[variables]\nHeartbeat = 1\n'))


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"not valid TOML: .*line 1"):
        load_profile(write(tmp_path, "name = = 1\n"))
    with pytest.raises(ProfileError, match=r"cannot read profile"):
        load_profile(tmp_path / "absent.toml")


def test_passwords_by_security_profile() -> None:
    def with_security(profile: int, password: str | None) -> StationProfile:
        return msgspec.convert({"security": {"profile": profile, "password": password}}, type=StationProfile)

    assert station_password(with_security(0, "x-{station_id}"), "A") is None
    assert station_password(with_security(1, "x-{station_id}"), "A") == "x-A"
    assert station_password(with_security(2, "x-{station_id}"), "A") == "x-A"
    assert station_password(with_security(3, "x-{station_id}"), "A") is None
    assert station_password(with_security(1, None), "A") is None


def test_draw_is_reproducible() -> None:
    assert draw(random.Random(1), 5.0) == 5.0
    assert draw(random.Random(1), (3.0, 3.0)) == 3.0
    a = [draw(random.Random(42), (0.0, 10.0)) for _ in range(3)]
    b = [draw(random.Random(42), (0.0, 10.0)) for _ in range(3)]
    assert a == b and all(0.0 <= x <= 10.0 for x in a)


def test_find_line() -> None:
    text = 'a = 1\n[identity]\nmodel = "x"\n[[evses]]\nphases = 1\n[[evses]]\nphases = 2\n'
    assert find_line(text, "$.a") == 1
    assert find_line(text, "$.identity.model") == 3
    assert find_line(text, "$.evses[1].phases") == 7
    assert find_line(text, "$.evses[1]") == 6
    assert find_line(text, "$.nothing") is None
