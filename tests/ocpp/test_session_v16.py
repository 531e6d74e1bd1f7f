"""OCPP 1.6J in the sans-IO session: 1.6's payloads, 1.6's RPC framework and CALLERROR codes.

OCPP-J 1.6 section 4.2.3 lists ten CALLERROR codes, spelled ``FormationViolation``
and ``OccurenceConstraintViolation`` (typos its errata sheet keeps); it has neither
RpcFrameworkError nor MessageTypeNotSupported, and only message types 2, 3 and 4.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import msgspec
import pytest

from fleet.ocpp import (
    PROTOCOLS,
    V16,
    V21,
    V201,
    VERSIONS,
    VERSIONS_BY_NAME,
    CallFailed,
    CallReceived,
    ErrorCode,
    OcppError,
    ProtocolViolation,
    RemoteCallError,
    ResultReceived,
    Session,
    v16,
)

#: Codes 1.6 must never send (2.0.1's, or the corrected spellings 1.6 does not use).
NEVER_FROM_16 = {
    "RpcFrameworkError",
    "MessageTypeNotSupported",
    "FormatViolation",
    "OccurrenceConstraintViolation",
}
SIXTEEN_CODES = {
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError", "FormationViolation",
    "PropertyConstraintViolation", "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError",
}  # fmt: skip
NOW = "2026-11-23T12:00:00Z"
BOOT = {"chargePointVendor": "fleet", "chargePointModel": "AC-1"}


def answer_of(text: str | bytes) -> tuple[list[Any], ProtocolViolation]:
    """Feed a frame to a fresh 1.6 central system session: its one answer and its one violation."""
    session = Session(V16, role="csms")
    [event] = session.receive_frame(text, 0.0)
    assert isinstance(event, ProtocolViolation) and event.answered
    [answer] = [json.loads(f) for f in session.data_to_send()]
    return answer, event


def call(action: str, payload: dict[str, Any]) -> str:
    return json.dumps([2, "id", action, payload])


def test_16_is_a_protocol_of_the_core_and_spoken_last_in_preference() -> None:
    assert PROTOCOLS == {"1.6": V16, "2.0.1": V201, "2.1": V21}
    assert V16.subprotocol == "ocpp1.6" and V16.name == "1.6"
    assert VERSIONS["ocpp1.6"] is V16 and VERSIONS_BY_NAME["1.6"] is V16
    assert list(VERSIONS)[-1] == "ocpp1.6"  # the CSMS's last choice
    assert V16.message_types == {2, 3, 4}
    assert V16.error_codes.sendable == SIXTEEN_CODES


def test_direction_tables_follow_the_16_specification() -> None:
    assert len(V16.actions) == 39
    assert V16.initiated_by("station") & V16.initiated_by("csms") == {"DataTransfer"}
    assert {"Authorize", "StartTransaction", "StopTransaction", "SignedFirmwareStatusNotification"} <= (
        V16.initiated_by_station
    )
    assert {"RemoteStartTransaction", "ChangeConfiguration", "ExtendedTriggerMessage", "GetLog"} <= (
        V16.initiated_by_csms
    )


def test_a_16_transaction_round_trip_is_typed() -> None:
    station, csms = Session(V16, role="station"), Session(V16, role="csms")
    start = v16.StartTransactionRequest(connector_id=1, id_tag="TAG-1", meter_start=0, timestamp=_now())
    message_id = station.call(start, 0.0)
    [frame] = station.data_to_send()
    assert json.loads(frame) == [
        2, message_id, "StartTransaction",
        {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": "2026-11-23T12:00:00Z"},
    ]  # fmt: skip
    [received] = csms.receive_frame(frame, 0.0)
    assert isinstance(received, CallReceived) and received.request == start
    csms.reply(
        message_id,
        v16.StartTransactionResponse(
            transaction_id=7, id_tag_info=v16.IdTagInfo(status=v16.AuthorizationStatus.ACCEPTED)
        ),
    )
    [answer] = csms.data_to_send()
    [result] = station.receive_frame(answer, 0.1)
    assert isinstance(result, ResultReceived)
    assert result.response.transaction_id == 7 and result.response.id_tag_info.status == "Accepted"


def _now() -> datetime.datetime:
    return datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("frame", "expected_id", "code", "meaning"),
    [
        (b"\xff\xfe not json", "-1", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ("{not json", "-1", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ("[]", "-1", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ('[2, 17, "Heartbeat", {}]', "-1", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ('[2, "id", "Heartbeat"]', "id", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ('[7, "id", "Heartbeat", {}]', "id", "GenericError", ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED),
        ('[5, "id", "GenericError", "", {}]', "id", "GenericError", ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED),
        ('[6, "id", "Heartbeat", {}]', "id", "GenericError", ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED),
        ('[2, "id", "Heartbeat", []]', "id", "FormationViolation", ErrorCode.FORMAT_VIOLATION),
        (call("Heartbeat", {"extra": 1}), "id", "FormationViolation", ErrorCode.FORMAT_VIOLATION),
        (call("FlyToTheMoon", {}), "id", "NotImplemented", ErrorCode.NOT_IMPLEMENTED),
        # a 2.0.1 action is no 1.6 action
        (call("TransactionEvent", {}), "id", "NotImplemented", ErrorCode.NOT_IMPLEMENTED),
        (
            call("BootNotification", {"chargePointVendor": "fleet"}),
            "id",
            "OccurenceConstraintViolation",
            ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
        ),
        (
            call("BootNotification", {**BOOT, "chargePointModel": 5}),
            "id",
            "TypeConstraintViolation",
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
        ),
        (
            call("Authorize", {"idTag": "x" * 21}),  # idTag is CiString20Type
            "id",
            "PropertyConstraintViolation",
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
        (
            call("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Occupied"}),
            "id",
            "PropertyConstraintViolation",
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
        (
            call(
                "StartTransaction",
                {"connectorId": 1, "idTag": "t", "meterStart": 0, "timestamp": "2026-11-23T12:00:00"},
            ),
            "id",
            "PropertyConstraintViolation",
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
        (
            call("UpdateFirmware", {"location": "not a uri", "retrieveDate": NOW}),
            "id",
            "PropertyConstraintViolation",
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
        (
            call(
                "SetChargingProfile",
                {
                    "connectorId": 1,
                    "csChargingProfiles": {
                        "chargingProfileId": 1,
                        "stackLevel": 0,
                        "chargingProfilePurpose": "TxDefaultProfile",
                        "chargingProfileKind": "Absolute",
                        "chargingSchedule": {
                            "chargingRateUnit": "A",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.05}],
                        },
                    },
                },
            ),
            "id",
            "PropertyConstraintViolation",
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
        (
            call("MeterValues", {"connectorId": 1, "meterValue": []}),  # minItems 1
            "id",
            "OccurenceConstraintViolation",
            ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
        ),
    ],
)
def test_bad_16_input_gets_the_code_16_prescribes(
    frame: str | bytes, expected_id: str, code: str, meaning: ErrorCode
) -> None:
    answer, violation = answer_of(frame)
    assert answer[:3] == [4, expected_id, code], answer
    assert answer[2] in SIXTEEN_CODES and answer[2] not in NEVER_FROM_16
    assert len(answer) == 5 and isinstance(answer[3], str) and answer[4] == {}
    assert violation.code is meaning


def test_a_multiple_of_a_tenth_is_accepted_as_written() -> None:
    session = Session(V16, role="station")
    profile = {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W", "minChargingRate": 0.3,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.3}, {"startPeriod": 60, "limit": 7}],
        },
    }  # fmt: skip
    [event] = session.receive_frame(
        call("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}), 0.0
    )
    assert isinstance(event, CallReceived)
    periods = event.request.cs_charging_profiles.charging_schedule.charging_schedule_period
    assert [p.limit for p in periods] == [16.3, 7.0]
    with pytest.raises(ValueError, match=r"multiple of 0\.1"):
        v16.ChargingSchedulePeriod(start_period=0, limit=0.25)


def test_application_errors_are_spelled_the_16_way() -> None:
    session = Session(V16, role="station")
    for message_id in ("a", "b", "c"):
        [event] = session.receive_frame(json.dumps([2, message_id, "ClearCache", {}]), 0.0)
        assert isinstance(event, CallReceived)

    def refuse(request: Any) -> Any:
        raise OcppError(ErrorCode.FORMAT_VIOLATION, "no")

    session.dispatch(event, refuse)  # "c"
    session.reply_error("a", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "missing")
    session.reply_error("b", ErrorCode.RPC_FRAMEWORK_ERROR)
    sent = [json.loads(f)[:3] for f in session.data_to_send()]
    assert sent == [
        [4, "c", "FormationViolation"],
        [4, "a", "OccurenceConstraintViolation"],
        [4, "b", "ProtocolError"],
    ]


@pytest.mark.parametrize(
    ("wire", "understood"),
    [
        ("FormationViolation", ErrorCode.FORMAT_VIOLATION),
        ("FormatViolation", ErrorCode.FORMAT_VIOLATION),  # the corrected spelling, from a peer using it
        ("OccurenceConstraintViolation", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        ("OccurrenceConstraintViolation", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        ("NotSupported", ErrorCode.NOT_SUPPORTED),
        ("RpcFrameworkError", "RpcFrameworkError"),  # no 1.6 code: kept as the peer sent it
    ],
)
def test_a_peers_16_callerror_is_read_with_16_codes(wire: str, understood: ErrorCode | str) -> None:
    session = Session(V16)
    session.call(v16.HeartbeatRequest(), 0.0, message_id="x")
    session.data_to_send()
    [event] = session.receive_frame(json.dumps([4, "x", wire, "why", {}]), 1.0)
    assert isinstance(event, CallFailed) and isinstance(event.error, RemoteCallError)
    assert event.error.code == understood
    assert isinstance(event.error.code, ErrorCode) == isinstance(understood, ErrorCode)


def test_multiple_of_holds_for_numbers_of_any_size() -> None:
    """1.6's ``limit`` is a multiple of 0.1 checked in decimal: a huge but finite limit is one
    (the default decimal precision of 28 digits once called 1e27 not finite)."""
    decode = V16.response_decoder("GetCompositeSchedule").decode

    def answer(limit: str) -> bytes:
        return (b'{"status": "Accepted", "chargingSchedule": {"chargingRateUnit": "A", '
                b'"chargingSchedulePeriod": [{"startPeriod": 0, "limit": ' + limit.encode() + b"}]}}")

    for limit in ("1e27", "16.3", "1.7976931348623157e308", "0"):
        decode(answer(limit))
    with pytest.raises(msgspec.ValidationError, match=r"multiple of 0\.1"):
        decode(answer("0.05"))
