"""The station's dialect hooks, without sockets: the registry picks the dialect by the
profile's ``ocpp_version``; the 2.0.1 dialect builds its boot, reads its configuration
model, says what may be shed and which traffic fault injection sends; its handlers act
through the station's typed interface (a Reset OnIdle waits for the last transaction)."""

from __future__ import annotations

import pytest
import trio

from fleet.actors.station import Station
from fleet.actors.station.dialects import DIALECTS, dialect_factory
from fleet.actors.station.hardware import TxState
from fleet.actors.station.v16.dialect import V16Dialect
from fleet.actors.station.v21.dialect import V21Dialect
from fleet.actors.station.v201.dialect import V201Dialect
from fleet.actors.station.v201.directions import CSMS_INITIATED, STATION_INITIATED
from fleet.ocpp.v201 import (
    BootReason,
    HeartbeatRequest,
    Reset,
    ResetRequest,
    ResetStatus,
    Transaction,
    TransactionEvent,
    TransactionEventRequest,
    TriggerReason,
)
from fleet.profiles import RetryBackoff, StationProfile


def station(**profile: object) -> Station:
    return Station("CS-7", "ws://127.0.0.1:9/ocpp", auto_connect=False, seed=1,
                   profile=StationProfile(**profile))  # type: ignore[arg-type]


def test_the_profile_s_version_picks_the_dialect_one_registration_per_version() -> None:
    assert set(DIALECTS) == {"2.1", "2.0.1", "1.6"}
    assert dialect_factory("2.0.1") is V201Dialect
    assert dialect_factory("1.6") is V16Dialect
    assert dialect_factory("2.1") is V21Dialect
    with pytest.raises(ValueError, match=r"unsupported OCPP version '2\.2'"):
        dialect_factory("2.2")
    st = station()
    assert isinstance(st.dialect, V201Dialect)
    assert st.dialect.version == st.profile.ocpp_version == "2.0.1"
    assert st.model is st.dialect.model
    st16 = station(ocpp_version="1.6")
    assert isinstance(st16.dialect, V16Dialect) and st16.dialect.version == "1.6"
    assert st16.profile.protocol_version.subprotocol == "ocpp1.6"


def test_boot_request_carries_the_reason_and_the_identity_and_a_firmware_update_shows() -> None:
    dialect = station().dialect
    boot = dialect.boot_request("PowerUp")
    assert boot.reason == BootReason.POWER_UP
    assert boot.charging_station.serial_number == "SN-CS-7"
    assert dialect.boot_request(None).reason == BootReason.UNKNOWN
    assert dialect.boot_reason("RemoteReset") == BootReason.REMOTE_RESET
    with pytest.raises(ValueError):
        dialect.boot_reason("NoSuchReason")
    assert isinstance(dialect, V201Dialect)
    dialect.firmware_installed("9.9.9")
    assert dialect.boot_request("FirmwareUpdate").charging_station.firmware_version == "9.9.9"


def test_the_configuration_model_holds_the_back_off_and_the_intervals() -> None:
    st = station(retry_backoff=RetryBackoff(wait_minimum=7, repeat_times=2, random_range=3), heartbeat_interval=42)
    dialect = st.dialect
    assert dialect.retry_backoff() == (7, 2, 3)
    dialect.set_retry_backoff(11, None, 0)
    assert dialect.retry_backoff() == (11, 2, 0)
    assert st.model.get_int("OCPPCommCtrlr", "RetryBackOffWaitMinimum") == 11
    assert dialect.heartbeat_interval() == 42
    dialect.credentials_changed("CS-8", "a-new-password-16")
    assert st.model.get_str("SecurityCtrlr", "Identity") == "CS-8"
    assert st.model.get_str("SecurityCtrlr", "BasicAuthPassword") == "a-new-password-16"


def test_only_periodic_meter_values_may_be_shed() -> None:
    dialect = station().dialect

    def event(kind: TransactionEvent, trigger: TriggerReason) -> TransactionEventRequest:
        return TransactionEventRequest(event_type=kind, timestamp="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
                                       trigger_reason=trigger, seq_no=0,
                                       transaction_info=Transaction(transaction_id="T"))

    assert dialect.sheddable(event(TransactionEvent.UPDATED, TriggerReason.METER_VALUE_PERIODIC))
    assert dialect.sheddable(event(TransactionEvent.UPDATED, TriggerReason.METER_VALUE_CLOCK))
    assert not dialect.sheddable(event(TransactionEvent.UPDATED, TriggerReason.CHARGING_STATE_CHANGED))
    assert not dialect.sheddable(event(TransactionEvent.STARTED, TriggerReason.AUTHORIZED))
    assert not dialect.sheddable(event(TransactionEvent.ENDED, TriggerReason.METER_VALUE_PERIODIC))
    assert not dialect.sheddable(HeartbeatRequest())


def test_handlers_answer_every_csms_initiated_action_and_fault_injection_speaks_the_version() -> None:
    st = station()
    dialect = st.dialect
    assert set(dialect.handlers) == CSMS_INITIATED
    assert dialect.knows_action("Reset") and dialect.knows_action("BootNotification")
    assert not dialect.knows_action("RemoteStartTransaction")  # 1.6, not 2.0.1
    with pytest.raises(ValueError, match=r"unknown OCPP 2\.0\.1 action"):
        st.on("RemoteStartTransaction")
    assert st.malformed_direction is dialect.to_csms
    assert set(dialect.to_csms.actions) == STATION_INITIATED
    assert set(dialect.to_csms.foreign) == CSMS_INITIATED - STATION_INITIATED


def test_a_driver_stop_with_a_reason_2_0_1_does_not_know_is_refused() -> None:
    st = station()
    with pytest.raises(ValueError):
        st.dialect.stop_by_driver(st.evses[0], "NoSuchReason")


async def test_reset_on_idle_waits_for_the_last_transaction_through_the_station_interface() -> None:
    st = station()
    evse = st.evses[0]
    evse.tx = TxState("T1", trio.current_time(), st.clock(), evse.register_wh)
    reset = st.default_handler("Reset")
    answer = reset(ResetRequest(type=Reset.ON_IDLE), None)
    assert answer.status == ResetStatus.SCHEDULED
    assert not st.has_timer("reboot")
    evse.tx = None
    st.transaction_ended(evse)
    assert st.has_timer("reboot")  # the reboot follows once the answer went out
    answer = reset(ResetRequest(type=Reset.IMMEDIATE), None)
    assert answer.status == ResetStatus.ACCEPTED
