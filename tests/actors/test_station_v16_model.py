"""The OCPP 1.6 station's configuration keys and connector numbering, without sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.actors.station import Station, load_profile
from fleet.actors.station.hardware import EvseState, Reservation
from fleet.actors.station.v16.configuration import Configuration, check_overrides, key_table
from fleet.actors.station.v16.connectors import ConnectorMap
from fleet.actors.station.v16.dialect import IdTag, V16Dialect
from fleet.ocpp.v16 import ConfigurationStatus, Reason
from fleet.profiles import ConnectorProfile, EvseProfile, ProfileError, SampledData, StationProfile

STANDARD_KEYS = {
    "HeartbeatInterval", "ConnectionTimeOut", "MeterValueSampleInterval", "MeterValuesSampledData",
    "ClockAlignedDataInterval", "NumberOfConnectors", "StopTransactionOnEVSideDisconnect", "WebSocketPingInterval",
    "AuthorizationKey", "SecurityProfile", "LocalAuthListEnabled", "AuthorizeRemoteTxRequests", "LocalPreAuthorize",
    "LocalAuthorizeOffline", "TransactionMessageAttempts", "TransactionMessageRetryInterval",
    "GetConfigurationMaxKeys", "SupportedFeatureProfiles", "StopTransactionOnInvalidId",
}

TWO_EVSES = StationProfile(ocpp_version="1.6", evses=[
    EvseProfile(connectors=[ConnectorProfile(), ConnectorProfile(type="cCCS2")]),
    EvseProfile(),
])


def test_the_key_table_has_the_standard_keys_with_type_access_and_profile_defaults() -> None:
    profile = StationProfile(ocpp_version="1.6", heartbeat_interval=120,
                             sampled_data=SampledData(tx_updated_interval=15, tx_updated_measurands=["Voltage"]))
    table = key_table(profile)
    assert set(table) >= STANDARD_KEYS
    assert (table["HeartbeatInterval"].type, table["HeartbeatInterval"].default) == ("integer", "120")
    assert table["HeartbeatInterval"].unit == "s" and not table["HeartbeatInterval"].readonly
    assert (table["MeterValueSampleInterval"].default, table["MeterValuesSampledData"].default) == ("15", "Voltage")
    assert table["MeterValuesSampledData"].type == "CSL"
    assert table["NumberOfConnectors"].readonly and table["NumberOfConnectors"].default == "1"
    assert table["StopTransactionOnEVSideDisconnect"].type == "boolean"
    assert table["AuthorizationKey"].write_only and not table["AuthorizationKey"].readonly
    assert key_table(TWO_EVSES)["NumberOfConnectors"].default == "3"


def test_change_configuration_statuses() -> None:
    model = Configuration(key_table(StationProfile(ocpp_version="1.6")))
    assert model.change("HeartbeatInterval", "60") == (ConfigurationStatus.ACCEPTED, model.definition("HeartbeatInterval"))
    assert model.get_int("HeartbeatInterval") == 60
    assert model.change("HeartbeatInterval", "soon")[0] == ConfigurationStatus.REJECTED
    assert model.change("HeartbeatInterval", "-5")[0] == ConfigurationStatus.REJECTED
    assert model.get_int("HeartbeatInterval") == 60
    assert model.change("NumberOfConnectors", "4")[0] == ConfigurationStatus.REJECTED
    assert model.change("NoSuchKey", "1")[0] == ConfigurationStatus.NOT_SUPPORTED
    assert model.change("WebSocketPingInterval", "10")[0] == ConfigurationStatus.REBOOT_REQUIRED
    assert model.change("LocalPreAuthorize", "TRUE")[0] == ConfigurationStatus.ACCEPTED
    assert model.get_bool("LocalPreAuthorize")
    assert model.change("MeterValuesSampledData", "Voltage, SoC")[0] == ConfigurationStatus.ACCEPTED
    assert model.get_list("MeterValuesSampledData") == ["Voltage", "SoC"]
    assert model.change("MeterValuesSampledData", "Voltage,Bogus")[0] == ConfigurationStatus.REJECTED
    assert model.change("AuthorizationKey", "short")[0] == ConfigurationStatus.REJECTED
    assert model.change("AuthorizationKey", "a-new-password-of-24-chr")[0] == ConfigurationStatus.ACCEPTED


def test_profile_variables_override_keys_and_bad_ones_are_refused() -> None:
    profile = StationProfile(ocpp_version="1.6", variables={"MeterValueSampleInterval": 30, "LocalPreAuthorize": True})
    assert check_overrides(profile) is None
    table = key_table(profile)
    assert (table["MeterValueSampleInterval"].default, table["LocalPreAuthorize"].default) == ("30", "true")
    name, problem = check_overrides(StationProfile(ocpp_version="1.6", variables={"Heartbeat": 1})) or ("", "")
    assert name == "Heartbeat" and "1.6 configuration key" in problem
    name, problem = check_overrides(StationProfile(ocpp_version="1.6", variables={"HeartbeatInterval": "soon"})) \
        or ("", "")
    assert name == "HeartbeatInterval" and "integer" in problem


def test_load_profile_names_the_file_and_the_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "bad16.toml"
    path.write_text('ocpp_version = "1.6"\n[variables]\nMeterValueSampleInterval = "often"\n')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert f"{path}:3:" in str(info.value) and '`$.variables."MeterValueSampleInterval"`' in str(info.value)
    path.write_text('ocpp_version = "1.6"\n[variables]\n"OCPPCommCtrlr.HeartbeatInterval" = 5\n')
    with pytest.raises(ProfileError):
        load_profile(path)
    path.write_text('ocpp_version = "1.6"\n[variables]\nClockAlignedDataInterval = 900\n')
    assert load_profile(path).variables == {"ClockAlignedDataInterval": 900}


def test_connectors_are_numbered_across_the_station() -> None:
    evses = [EvseState(n, evse) for n, evse in enumerate(TWO_EVSES.evses, start=1)]
    connectors = ConnectorMap(evses)
    assert len(connectors) == 3
    assert [(n, e.id, c.connector_id) for n, e, c in connectors.all()] == [(1, 1, 1), (2, 1, 2), (3, 2, 1)]
    target = connectors.get(2)
    assert target is not None and (target[0].id, target[1].connector_id) == (1, 2)
    assert connectors.get(0) is None and connectors.get(4) is None
    assert connectors.id_of(evses[1], 1) == 3
    assert connectors.ids_of(evses[0]) == [1, 2]


async def test_connector_statuses_follow_the_hardware_as_1_6_names_them() -> None:
    station = Station("CS-16", "ws://127.0.0.1:9/ocpp", auto_connect=False, seed=1, profile=TWO_EVSES)
    dialect = station.dialect
    assert isinstance(dialect, V16Dialect)
    evse, other = station.evses
    first, second = evse.connectors

    def statuses() -> list[str]:
        return [str(dialect.status_of(e, c)) for _, e, c in dialect.connectors.all()]

    assert statuses() == ["Available"] * 3
    dialect.plug_vehicle(evse, 1)
    assert statuses() == ["Preparing", "Unavailable", "Available"]  # the sibling shares the power stage
    dialect.authorized(evse, "T")  # plugged and authorized: the transaction starts
    assert evse.tx is not None and evse.tx.id == "L1" and evse.power_w > 0
    assert statuses()[0] == "Charging"
    evse.power_w = 0.0
    assert statuses()[0] == "SuspendedEV"  # the vehicle takes nothing
    evse.limit_w = 0.0
    assert statuses()[0] == "SuspendedEVSE"  # a charging profile allows nothing
    dialect.stop_transaction(evse, Reason.LOCAL)
    assert statuses()[0] == "Finishing"
    first.operative = False
    assert statuses()[0] == "Unavailable"
    first.faulted = True
    assert statuses()[0] == "Faulted"
    other.reservation = Reservation(3, other.id, IdTag("R"), None)
    assert statuses()[2] == "Reserved"
    assert second.status == "Unavailable" and dialect.station_status == "Available"  # the statuses it keeps
