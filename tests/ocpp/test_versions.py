"""Versions as data: error spellings, message types, direction tables, the registry, the profile's version.

Only OCPP 2.0.1 exists, so the design is proved with a test-only version that has
OCPP-J 1.6's CALLERROR vocabulary (``FormationViolation``, ``OccurenceConstraintViolation``,
no RpcFrameworkError or MessageTypeNotSupported), built here from the 1.6 text.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from fleet.actors.station import load_profile
from fleet.ocpp import (
    V16,
    V201,
    VERSIONS,
    VERSIONS_BY_NAME,
    CallFailed,
    CallReceived,
    ErrorCode,
    ErrorCodes,
    OcppError,
    ProtocolVersion,
    ProtocolViolation,
    RemoteCallError,
    Role,
    Session,
    select_subprotocol,
    v201,
)
from fleet.ocpp.frames import (
    BASIC_MESSAGE_TYPES,
    Call,
    CallError,
    CallResult,
    CallResultError,
    MessageType,
    Send,
    diagnose,
    frame_decoder,
)
from fleet.profiles import ProfileError, StationProfile

# -- a test-only version with OCPP-J 1.6's error codes (section 4.2.3, table 7, spelled as the
# -- errata sheet says they stay: "do not fix") --------------------------------------------------------------

OCPP16_ERROR_CODES = ErrorCodes.of(
    {
        ErrorCode.NOT_IMPLEMENTED: "NotImplemented",
        ErrorCode.NOT_SUPPORTED: "NotSupported",
        ErrorCode.INTERNAL_ERROR: "InternalError",
        ErrorCode.PROTOCOL_ERROR: "ProtocolError",
        ErrorCode.SECURITY_ERROR: "SecurityError",
        ErrorCode.FORMAT_VIOLATION: "FormationViolation",
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION: "PropertyConstraintViolation",
        ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
        ErrorCode.TYPE_CONSTRAINT_VIOLATION: "TypeConstraintViolation",
        ErrorCode.GENERIC_ERROR: "GenericError",
    },
    # 1.6 has no code for these: a frame that is not a complete RPC message is a ProtocolError,
    # an unknown message type "any other error".
    fallback={
        ErrorCode.RPC_FRAMEWORK_ERROR: ErrorCode.PROTOCOL_ERROR,
        ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: ErrorCode.GENERIC_ERROR,
    },
    # the corrected spellings the errata announce, from a peer that uses them
    aliases={
        "FormatViolation": ErrorCode.FORMAT_VIOLATION,
        "OccurrenceConstraintViolation": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    },
)
SPELLED_AS_16 = dataclasses.replace(V201, name="1.6-spelling", subprotocol="test1.6", error_codes=OCPP16_ERROR_CODES)
NEVER_FROM_16 = {"RpcFrameworkError", "MessageTypeNotSupported", "FormatViolation", "OccurrenceConstraintViolation"}

# -- the spec's direction of every OCPP 2.0.1 request (part 2: "... PDU sent by the CSMS to the Charging
# -- Station" / "by the Charging Station to the CSMS") -----------------------------------------------------

SPEC_BY_STATION = {
    "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer", "FirmwareStatusNotification",
    "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification", "MeterValues",
    "NotifyChargingLimit", "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
    "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
    "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
}
SPEC_BY_CSMS = {
    "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache", "ClearChargingProfile",
    "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated", "CustomerInformation", "DataTransfer",
    "DeleteCertificate", "GetBaseReport", "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages",
    "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "GetMonitoringReport", "GetReport",
    "GetTransactionStatus", "GetVariables", "InstallCertificate", "PublishFirmware", "RequestStartTransaction",
    "RequestStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage",
    "SetMonitoringBase", "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring", "SetVariables",
    "TriggerMessage", "UnlockConnector", "UnpublishFirmware", "UpdateFirmware",
}


def answer_of(text: str | bytes, version: ProtocolVersion) -> tuple[list[Any], ProtocolViolation]:
    """Feed a frame to a fresh CSMS session of ``version``: its one answer and its one violation."""
    session = Session(version, role="csms")
    [event] = session.receive_frame(text, 0.0)
    assert isinstance(event, ProtocolViolation) and event.answered
    [answer] = [json.loads(f) for f in session.data_to_send()]
    return answer, event


# -- error codes ---------------------------------------------------------------------------------------------


def test_201_spells_every_meaning_as_itself_and_reads_every_code_back() -> None:
    table = V201.error_codes
    assert table.sendable == {code.value for code in ErrorCode} and len(table.sendable) == 12
    for code in ErrorCode:
        assert table.spell(code) == code.value
        assert table.read(code.value) is code
    assert table.read("FormationViolation") == "FormationViolation"  # not a 2.0.1 code: kept as the peer's
    assert not isinstance(table.read("FormationViolation"), ErrorCode)


def test_16_table_spells_its_own_codes_and_falls_back_where_it_has_none() -> None:
    table = OCPP16_ERROR_CODES
    assert table.spell(ErrorCode.FORMAT_VIOLATION) == "FormationViolation"
    assert table.spell(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION) == "OccurenceConstraintViolation"
    assert table.spell(ErrorCode.RPC_FRAMEWORK_ERROR) == "ProtocolError"
    assert table.spell(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED) == "GenericError"
    assert table.spell("FormatViolation") == "FormationViolation"  # a meaning given as a plain string
    assert table.spell("VendorSpecific") == "VendorSpecific"  # outside the vocabulary: as given
    assert {table.spell(code) for code in ErrorCode} == table.sendable
    assert len(table.sendable) == 10 and not table.sendable & NEVER_FROM_16
    assert table.read("FormationViolation") is ErrorCode.FORMAT_VIOLATION
    assert table.read("OccurenceConstraintViolation") is ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
    assert table.read("FormatViolation") is ErrorCode.FORMAT_VIOLATION  # alias
    assert table.read("RpcFrameworkError") == "RpcFrameworkError"  # not a 1.6 code


def test_an_incomplete_or_inconsistent_table_is_refused() -> None:
    every = {code: code.value for code in ErrorCode}
    with pytest.raises(ValueError, match="neither a code nor a fallback"):
        ErrorCodes.of({code: code.value for code in ErrorCode if code is not ErrorCode.SECURITY_ERROR})
    with pytest.raises(ValueError, match="both spelled and falling back"):
        ErrorCodes.of(every, fallback={ErrorCode.SECURITY_ERROR: ErrorCode.GENERIC_ERROR})
    without_generic = {code: code.value for code in ErrorCode if code not in (ErrorCode.GENERIC_ERROR, ErrorCode.SECURITY_ERROR)}
    with pytest.raises(ValueError, match="fallbacks to a meaning without a code"):
        ErrorCodes.of(
            without_generic,
            fallback={ErrorCode.SECURITY_ERROR: ErrorCode.GENERIC_ERROR, ErrorCode.GENERIC_ERROR: ErrorCode.GENERIC_ERROR},
        )
    with pytest.raises(ValueError, match="share one spelling"):
        ErrorCodes.of({**every, ErrorCode.SECURITY_ERROR: "GenericError"})


@pytest.mark.parametrize(
    ("frame", "expected_id", "code", "meaning"),
    [
        (b"\xff\xfe not json", "-1", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ("{not json", "-1", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ("[]", "-1", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ('[2, 17, "Heartbeat", {}]', "-1", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ('[2, "id", "Heartbeat"]', "id", "ProtocolError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ('[7, "id", "Heartbeat", {}]', "id", "GenericError", ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED),
        ('[2, "id", "Heartbeat", []]', "id", "FormationViolation", ErrorCode.FORMAT_VIOLATION),
        ('[2, "id", "Heartbeat", {"extra": 1}]', "id", "FormationViolation", ErrorCode.FORMAT_VIOLATION),
        ('[2, "id", "FlyToTheMoon", {}]', "id", "NotImplemented", ErrorCode.NOT_IMPLEMENTED),
        (
            '[2, "id", "BootNotification", {"reason": "PowerUp"}]',
            "id",
            "OccurenceConstraintViolation",
            ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
        ),
        (
            '[2, "id", "BootNotification", {"reason": 5, "chargingStation": {"model": "m", "vendorName": "v"}}]',
            "id",
            "TypeConstraintViolation",
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
        ),
    ],
)
def test_bad_input_on_a_16_spelling_session_gets_that_versions_code(
    frame: str | bytes, expected_id: str, code: str, meaning: ErrorCode
) -> None:
    answer, violation = answer_of(frame, SPELLED_AS_16)
    assert answer[:3] == [4, expected_id, code], answer
    assert answer[2] in OCPP16_ERROR_CODES.sendable and answer[2] not in NEVER_FROM_16
    assert violation.code is meaning  # inside, one vocabulary whatever the version
    # the same frame on 2.0.1 gets 2.0.1's spelling of the same meaning
    assert answer_of(frame, V201)[0][2] == meaning.value


def test_replies_of_the_application_are_spelled_by_the_version() -> None:
    session = Session(SPELLED_AS_16, role="csms")
    for message_id in ("a", "b", "c"):
        [event] = session.receive_frame(json.dumps([2, message_id, "Heartbeat", {}]), 0.0)
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
    ("version", "wire", "understood"),
    [
        (SPELLED_AS_16, "FormationViolation", ErrorCode.FORMAT_VIOLATION),
        (SPELLED_AS_16, "OccurenceConstraintViolation", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        (SPELLED_AS_16, "FormatViolation", ErrorCode.FORMAT_VIOLATION),
        (V201, "FormatViolation", ErrorCode.FORMAT_VIOLATION),
        (V201, "FormationViolation", "FormationViolation"),
        (V201, "SomethingElse", "SomethingElse"),
    ],
)
def test_a_peers_callerror_is_read_with_the_versions_codes(
    version: ProtocolVersion, wire: str, understood: ErrorCode | str
) -> None:
    session = Session(version)
    session.call(v201.HeartbeatRequest(), 0.0, message_id="x")
    session.data_to_send()
    [event] = session.receive_frame(json.dumps([4, "x", wire, "why", {}]), 1.0)
    assert isinstance(event, CallFailed) and isinstance(event.error, RemoteCallError)
    assert event.error.code == understood
    assert isinstance(event.error.code, ErrorCode) == isinstance(understood, ErrorCode)


# -- message types -------------------------------------------------------------------------------------------


def test_201_allows_call_callresult_and_callerror_only() -> None:
    assert V201.message_types == BASIC_MESSAGE_TYPES == {2, 3, 4}
    decoder = V201.frame_decoder
    assert type(decoder.decode('[2, "a", "Heartbeat", {}]')) is Call
    assert type(decoder.decode('[3, "a", {}]')) is CallResult
    assert type(decoder.decode('[4, "a", "GenericError", "", {}]')) is CallError
    for frame in ('[5, "a", "GenericError", "", {}]', '[6, "a", "Heartbeat", {}]', '[1, "a"]'):
        with pytest.raises(msgspec.DecodeError):
            decoder.decode(frame)
        assert diagnose(frame, V201.message_types).code is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED


@pytest.mark.parametrize("frame", ['[5, "a", "GenericError", "bad result", {}]', '[6, "a", "Heartbeat", {}]'])
def test_a_5_or_a_6_on_a_201_session_is_an_unsupported_message_type(frame: str) -> None:
    answer, violation = answer_of(frame, V201)
    assert answer[:3] == [4, "a", "MessageTypeNotSupported"]
    assert violation.code is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED


def test_frames_parse_per_the_allowed_set() -> None:
    every = {int(t) for t in MessageType}
    assert every == {2, 3, 4, 5, 6}
    decoder = frame_decoder(every)
    assert decoder.decode('[5, "a", "FormatViolation", "bad", {}]') == CallResultError(
        "a", "FormatViolation", "bad", msgspec.Raw(b"{}")
    )
    send = decoder.decode('[6, "a", "NotifyPeriodicEventStream", {"data": []}]')
    assert type(send) is Send and send.action == "NotifyPeriodicEventStream"
    assert diagnose('[6, "a", "X", []]', every).code is ErrorCode.FORMAT_VIOLATION
    assert diagnose('[6, "a", "X"]', every).description == "a SEND has 4 elements, got 3"
    assert diagnose('[5, "a", 1]', every).code is ErrorCode.RPC_FRAMEWORK_ERROR
    only_calls = frame_decoder({2})
    with pytest.raises(msgspec.DecodeError):
        only_calls.decode('[3, "a", {}]')
    with pytest.raises(ValueError, match=r"\[9\]"):
        frame_decoder({2, 3, 4, 9})


def test_a_version_without_the_basic_types_or_with_types_the_session_cannot_handle_is_refused() -> None:
    with pytest.raises(ValueError, match="lack CALL"):
        dataclasses.replace(V201, message_types=frozenset({2, 3}))
    with_send = dataclasses.replace(V201, message_types=frozenset({2, 3, 4, 5, 6}))
    assert type(with_send.frame_decoder.decode('[6, "a", "Heartbeat", {}]')) is Send
    # The session handles every OCPP-J 2.1 message type since SEND and CALLRESULTERROR came;
    # a message type no frame exists for is refused by the version itself.
    assert Session(with_send).version is with_send
    with pytest.raises(ValueError, match="no frame type"):
        dataclasses.replace(V201, message_types=frozenset({2, 3, 4, 7}))


# -- direction tables ----------------------------------------------------------------------------------------


def test_every_201_action_is_initiated_by_exactly_the_roles_the_spec_says() -> None:
    assert set(v201.ACTIONS) == SPEC_BY_STATION | SPEC_BY_CSMS
    assert V201.initiated_by_station == SPEC_BY_STATION == v201.INITIATED_BY_STATION
    assert V201.initiated_by_csms == SPEC_BY_CSMS == v201.INITIATED_BY_CSMS
    both: tuple[Role, Role] = ("station", "csms")
    for action in v201.ACTIONS:
        roles = {role for role in both if action in V201.initiated_by(role)}
        expected = {role for role, spec in zip(both, (SPEC_BY_STATION, SPEC_BY_CSMS), strict=True) if action in spec}
        assert roles == expected and roles, action
    assert V201.initiated_by_station & V201.initiated_by_csms == {"DataTransfer"}


def test_direction_tables_must_cover_exactly_the_actions() -> None:
    with pytest.raises(ValueError, match=r"miss \['Heartbeat'\]"):
        dataclasses.replace(V201, initiated_by_station=V201.initiated_by_station - {"Heartbeat"})
    with pytest.raises(ValueError, match=r"unknown actions \['FlyToTheMoon'\]"):
        dataclasses.replace(V201, initiated_by_csms=V201.initiated_by_csms | {"FlyToTheMoon"})


# -- the registry --------------------------------------------------------------------------------------------


def test_registry_by_subprotocol_and_by_name() -> None:
    assert list(VERSIONS) == ["ocpp2.0.1", "ocpp1.6"]
    assert all(version.subprotocol == key for key, version in VERSIONS.items())
    assert list(VERSIONS_BY_NAME) == ["2.0.1", "1.6"] and VERSIONS_BY_NAME["2.0.1"] is V201
    assert VERSIONS_BY_NAME["1.6"] is V16
    assert list(VERSIONS_BY_NAME.values()) == list(VERSIONS.values())
    assert select_subprotocol(["ocpp1.6", "ocpp2.0.1"]) is V201
    assert select_subprotocol(["ocpp1.6"]) is V16
    assert select_subprotocol(["ocpp2.1"]) is None
    assert "2.1" not in VERSIONS_BY_NAME


# -- the profile's version -----------------------------------------------------------------------------------


def test_profile_version_is_one_of_the_registry(tmp_path: Path) -> None:
    assert StationProfile().protocol_version is V201
    good = tmp_path / "good.toml"
    good.write_text('name = "x"\nocpp_version = "2.0.1"\n')
    assert load_profile(good).protocol_version.subprotocol == "ocpp2.0.1"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nocpp_version = "2.1"\n')
    with pytest.raises(ProfileError) as info:
        load_profile(bad)
    message = str(info.value)
    assert message.startswith(f"{bad}:2: `$.ocpp_version`: "), message
    assert '"2.0.1"' in message and "'2.1'" in message
    with pytest.raises(ValueError, match=r'one of "2.0.1"'):
        StationProfile(ocpp_version="2.1")
    with pytest.raises(msgspec.ValidationError, match="ocpp_version"):
        msgspec.convert({"ocpp_version": "ocpp2.0.1"}, type=StationProfile)
