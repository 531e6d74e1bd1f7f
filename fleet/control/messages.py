"""Control-API messages: commands, replies, events and the snapshots they carry.

Every message is one JSON object with a ``"type"`` field. Commands are decoded
once, at the edge, into the tagged union :data:`Command`; the server answers each
with a :class:`Result` or an :class:`Error` carrying the ``id`` the client chose,
and pushes :class:`Event` messages for subscriptions. The list of commands and
their fields is in :mod:`fleet.control` (module docstring).

The payload Structs (:class:`FleetSnapshot`, :class:`StationRow`, ...) are plain
data: the dashboard and scripts read them, nothing in them is live.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, get_args

import msgspec
from msgspec import Meta

from ..ocpp.customdata import enc_hook

__all__ = [
    "COMMANDS",
    "MAX_MESSAGE_SIZE",
    "RESULT_TYPES",
    "Ack",
    "ActionLatency",
    "AddStations",
    "AddStationsResult",
    "AuthCs",
    "AuthList",
    "BootStatus",
    "CallErrorInfo",
    "Close",
    "Command",
    "Connect",
    "ConnectionRow",
    "ControlEvent",
    "CostInfo",
    "CsmsConnections",
    "CsmsConnectionsResult",
    "CsmsPending",
    "CsmsPendingResult",
    "CsmsSend",
    "DerControlInfo",
    "Disconnect",
    "Error",
    "ErrorCode",
    "Event",
    "EvseInfo",
    "FaultResult",
    "FleetSnapshot",
    "GetAuthCs",
    "GetAuthList",
    "Info",
    "Partition",
    "PendingRow",
    "Plug",
    "RemoveStations",
    "RemoveStationsResult",
    "Reply",
    "Reset",
    "RestartCsms",
    "Result",
    "Send",
    "SendResult",
    "ServerInfo",
    "SetAuthCs",
    "SetAuthList",
    "SetBootStatus",
    "SetRetryBackoff",
    "Snapshot",
    "StartTransaction",
    "Station",
    "StationDetail",
    "StationError",
    "StationRow",
    "StopTransaction",
    "Subscribe",
    "SubscribeResult",
    "TransactionInfo",
    "Unplug",
    "Unsubscribe",
    "Variable",
    "command_decoder",
    "encode",
    "reply_decoder",
]

#: Largest command the server accepts (bytes); a larger one closes the connection (1009).
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024

RequestId = int | str | None
StationId = Annotated[str, Meta(min_length=1, max_length=255)]
ActionName = Annotated[str, Meta(min_length=1, max_length=64)]
EvseId = Annotated[int, Meta(ge=0)]
ConnectorId = Annotated[int, Meta(ge=1)]
Seconds = Annotated[float, Meta(gt=0, le=3600)]
StationIds = Annotated[list[StationId], Meta(min_length=1, max_length=100_000)]
Share = Annotated[float, Meta(ge=0, le=1)]
#: The CSMS's answers to a BootNotification that ``set_boot_status`` can set.
BootStatus = Literal["Accepted", "Pending", "Rejected"]


class ErrorCode:
    """The ``code`` of an :class:`Error` reply."""

    #: Not JSON, not an object, a missing or wrong field: ``message`` says which.
    BAD_REQUEST: Final = "bad_request"
    #: ``type`` names no command.
    UNKNOWN_COMMAND: Final = "unknown_command"
    #: No such station (or subscription).
    NOT_FOUND: Final = "not_found"
    #: The station is not connected (``send``, ``csms_send``).
    NOT_CONNECTED: Final = "not_connected"
    #: This server cannot do that (e.g. CSMS commands on a fleet without a CSMS).
    UNSUPPORTED: Final = "unsupported"
    #: ``action`` is not an OCPP action.
    UNKNOWN_ACTION: Final = "unknown_action"
    #: The OCPP payload does not validate against the action's request type.
    INVALID_PAYLOAD: Final = "invalid_payload"
    #: The command conflicts with the current state (e.g. a station id already taken).
    CONFLICT: Final = "conflict"
    #: Too many subscriptions or commands in flight on this connection.
    BUSY: Final = "busy"
    #: The command failed inside the server; ``message`` tells why.
    INTERNAL_ERROR: Final = "internal_error"


class _Command(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of commands: ``id`` is the client's, echoed in the reply."""

    id: RequestId = None


# ---------------------------------------------------------------- commands


class Info(_Command, tag="info", frozen=True, kw_only=True):
    """What this server is: ``fleet`` or ``csms``, and which commands it serves."""


class Snapshot(_Command, tag="snapshot", frozen=True, kw_only=True):
    """The fleet: aggregates and (with ``rows``) one :class:`StationRow` per station,
    sorted by id; ``offset`` / ``limit`` page the rows."""

    rows: bool = True
    offset: Annotated[int, Meta(ge=0)] = 0
    limit: Annotated[int, Meta(ge=0)] | None = None


class Station(_Command, tag="station", frozen=True, kw_only=True):
    """One station's detail (:class:`StationDetail`)."""

    station_id: StationId


class Subscribe(_Command, tag="subscribe", frozen=True, kw_only=True):
    """Push one station's events (connect, disconnect, every OCPP message with its raw
    frame) as :class:`Event` messages. ``source``: ``station`` (the simulated
    station's side), ``csms`` (the CSMS's side), ``auto`` (the station if this
    server runs it, else the CSMS). Without ``station_id``: every station of the
    CSMS (CSMS servers only)."""

    station_id: StationId | None = None
    source: Literal["auto", "station", "csms"] = "auto"


class Unsubscribe(_Command, tag="unsubscribe", frozen=True, kw_only=True):
    """Stop a subscription (by its id, or every subscription to ``station_id``)."""

    subscription: str | None = None
    station_id: StationId | None = None


class Connect(_Command, tag="connect", frozen=True, kw_only=True):
    """Connect a station (optionally to a new CSMS ``url``, with a new Basic-auth
    ``password`` or as a new ``new_station_id``)."""

    station_id: StationId
    url: str | None = None
    password: str | None = None
    new_station_id: StationId | None = None


class Close(_Command, tag="close", frozen=True, kw_only=True):
    """Disconnect a station and stop it reconnecting."""

    station_id: StationId


class SetRetryBackoff(_Command, tag="set_retry_backoff", frozen=True, kw_only=True):
    """Change a station's reconnect backoff (the OCPP RetryBackOff* variables), seconds."""

    station_id: StationId
    minimum: Annotated[int, Meta(ge=0, le=86_400)] | None = None
    repeat: Annotated[int, Meta(ge=0, le=100)] | None = None
    random_range: Annotated[int, Meta(ge=0, le=86_400)] | None = None


class Plug(_Command, tag="plug", frozen=True, kw_only=True):
    """Plug a cable into a connector."""

    station_id: StationId
    evse_id: EvseId = 1
    connector_id: ConnectorId = 1


class Unplug(_Command, tag="unplug", frozen=True, kw_only=True):
    """Unplug the cable of a connector (``connector_id``: the one the vehicle must be on;
    ``null``: whichever it is on)."""

    station_id: StationId
    evse_id: EvseId = 1
    connector_id: ConnectorId | None = None


class StartTransaction(_Command, tag="start_transaction", frozen=True, kw_only=True):
    """A driver presents ``id_token`` at an EVSE (default token: ``FLEETCONTROL``) and
    the transaction starts as the station's TxStartPoint says. ``connector_id``: the
    driver is at that connector (it must exist and, with a vehicle plugged in, be the
    one it is on); ``null``: at the EVSE."""

    station_id: StationId
    evse_id: EvseId = 1
    connector_id: ConnectorId | None = None
    id_token: Annotated[str, Meta(max_length=36)] | None = None


class StopTransaction(_Command, tag="stop_transaction", frozen=True, kw_only=True):
    """Stop the transaction on an EVSE (``reason``: an OCPP stoppedReason)."""

    station_id: StationId
    evse_id: EvseId = 1
    reason: str | None = None


class Reset(_Command, tag="reset", frozen=True, kw_only=True):
    """Reset a station (``Immediate`` or ``OnIdle``), as if the CSMS had asked."""

    station_id: StationId
    reset_type: Literal["Immediate", "OnIdle"] = "Immediate"


class AddStations(_Command, tag="add_stations", frozen=True, kw_only=True):
    """Add ``count`` stations from a profile; ids are ``<prefix><n>`` (default prefix: the
    profile's name)."""

    profile: Annotated[str, Meta(min_length=1, max_length=255)]
    count: Annotated[int, Meta(ge=1, le=100_000)] = 1
    prefix: Annotated[str, Meta(max_length=200)] | None = None
    connect: bool = True


class RemoveStations(_Command, tag="remove_stations", frozen=True, kw_only=True):
    """Stop and remove stations (their transactions end, their sockets close)."""

    station_ids: Annotated[list[StationId], Meta(min_length=1, max_length=100_000)]


class Send(_Command, tag="send", frozen=True, kw_only=True):
    """Send any OCPP request as a station; the reply is a :class:`SendResult`."""

    station_id: StationId
    action: ActionName
    payload: dict[str, Any] = {}
    message_id: Annotated[str, Meta(min_length=1, max_length=36)] | None = None
    tag: Any = None
    timeout: Seconds | None = None


class CsmsConnections(_Command, tag="csms_connections", frozen=True, kw_only=True):
    """The stations connected to the CSMS."""


class CsmsPending(_Command, tag="csms_pending", frozen=True, kw_only=True):
    """The CSMS's requests in flight or queued (of one station or all)."""

    station_id: StationId | None = None


class GetAuthList(_Command, tag="get_auth_list", frozen=True, kw_only=True):
    """The station ids with a password (passwords are never returned)."""


class SetAuthList(_Command, tag="set_auth_list", frozen=True, kw_only=True):
    """Replace the auth list (station id -> password); ``null`` accepts every station."""

    auth: dict[str, str] | None


class GetAuthCs(_Command, tag="get_auth_cs", frozen=True, kw_only=True):
    """Whether one station has a password (never the password itself)."""

    station_id: StationId


class SetAuthCs(_Command, tag="set_auth_cs", frozen=True, kw_only=True):
    """Set one station's password (``null`` removes it)."""

    station_id: StationId
    password: Annotated[str, Meta(min_length=1, max_length=255)] | None


class CsmsSend(_Command, tag="csms_send", frozen=True, kw_only=True):
    """Send any OCPP request as the CSMS to a connected station; the reply is a :class:`SendResult`."""

    station_id: StationId
    action: ActionName
    payload: dict[str, Any] = {}
    message_id: Annotated[str, Meta(min_length=1, max_length=36)] | None = None
    tag: Any = None
    timeout: Seconds | None = None


class Disconnect(_Command, tag="disconnect", frozen=True, kw_only=True):
    """Drop the links of stations abruptly (a TCP reset, no websocket close); they reconnect
    with their back-off. Give ``station_ids``, or a ``share`` (0..1) of the fleet drawn
    from ``seed`` (default: the fleet's seed; the same seed picks the same stations)."""

    station_ids: StationIds | None = None
    share: Share | None = None
    seed: int | None = None


class Partition(_Command, tag="partition", frozen=True, kw_only=True):
    """Cut stations off the CSMS for ``duration`` seconds (their links drop and every
    connection attempt fails), then they reconnect with their back-off. Give
    ``station_ids``, or a ``share`` of the fleet drawn from ``seed``."""

    duration: Seconds
    station_ids: StationIds | None = None
    share: Share | None = None
    seed: int | None = None


class RestartCsms(_Command, tag="restart_csms", frozen=True, kw_only=True):
    """Restart the built-in CSMS: it stops listening and drops every connection, and listens
    again on the same port after ``downtime`` seconds (what it recorded is kept); the
    fleet reconnects with its back-off and jitter."""

    downtime: Annotated[float, Meta(ge=0, le=3600)] = 5.0


class SetBootStatus(_Command, tag="set_boot_status", frozen=True, kw_only=True):
    """Have the CSMS answer these stations' next BootNotifications with ``status``
    (``Accepted``, ``Pending`` or ``Rejected``; ``null``: the usual answer again). Without
    ``station_ids``: the answer for every station (then ``status`` cannot be null)."""

    status: BootStatus | None
    station_ids: StationIds | None = None


Command = (
    Info
    | Snapshot
    | Station
    | Subscribe
    | Unsubscribe
    | Connect
    | Close
    | SetRetryBackoff
    | Plug
    | Unplug
    | StartTransaction
    | StopTransaction
    | Reset
    | AddStations
    | RemoveStations
    | Send
    | CsmsConnections
    | CsmsPending
    | GetAuthList
    | SetAuthList
    | GetAuthCs
    | SetAuthCs
    | CsmsSend
    | Disconnect
    | Partition
    | RestartCsms
    | SetBootStatus
)

#: Command name (its ``type``) -> command Struct.
COMMANDS: Final[dict[str, type[_Command]]] = {
    str(t.__struct_config__.tag): t for t in get_args(Command)
}


# ---------------------------------------------------------------- payloads


class StationRow(msgspec.Struct, frozen=True, gc=False):
    """One station in a :class:`FleetSnapshot` (one row of the dashboard's table).

    Attributes:
        id: the station id.
        profile: the profile it was made from.
        ocpp_version: the OCPP version it speaks (``"2.0.1"``; empty if not known yet).
        state: ``idle``, ``connecting``, ``booting``, ``pending``, ``rejected``,
            ``available``, ``charging``, ``faulted``, ``offline`` or ``closed``.
        connectors: each connector's status, EVSE by EVSE (``Available``, ``Occupied``, ...).
        power_w: power delivered now, all EVSEs.
        energy_wh: energy of the running transactions.
        soc: the EV's state of charge (percent), if known.
        tx_id: the running transaction's id (the first one, if several).
        last_error: the last error the station saw (empty if none).
        calls: OCPP calls it made that got an answer or failed (its counter ``calls``);
            ``errors``: of those, failed (its counter ``calls_failed``); ``reconnects``;
            ``queued``: transaction events waiting to be sent.
    """

    id: str
    profile: str = ""
    state: str = "idle"
    connectors: list[str] = []
    ocpp_version: str = ""
    power_w: float = 0.0
    energy_wh: float = 0.0
    soc: float | None = None
    tx_id: str | None = None
    last_error: str = ""
    calls: int = 0
    errors: int = 0
    reconnects: int = 0
    queued: int = 0


class ActionLatency(msgspec.Struct, frozen=True, gc=False):
    """Round trips of one OCPP action in one direction.

    Attributes:
        action: the action; ``direction``: ``out`` (we called) or ``in`` (the peer called).
        count: answered calls so far; ``rate``: of them, per second lately.
        p50_ms, p99_ms: latency percentiles so far.
        errors: failed calls so far.
    """

    action: str
    direction: str = "out"
    count: int = 0
    rate: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0


class FleetSnapshot(msgspec.Struct, frozen=True):
    """The fleet (or the CSMS's stations) at one moment.

    Attributes:
        at: wall-clock time of the snapshot.
        kind: ``fleet`` or ``csms``.
        phase: the run's phase (``starting``, ``ramping``, ``running``, ``stopping``, ``done``), if any.
        total: stations in all.
        states: stations by state.
        calls_per_s: OCPP calls answered per second lately; ``failed_per_s``: failed.
            Both come from running totals and the times their processes took them, so
            they hold between two updates (never 0 while calls flow).
        completed, failed: calls answered / failed so far.
        actions: latency per action and direction.
        errors: failed calls by CALLERROR code (``Timeout`` for timeouts).
        reconnects: reconnections so far.
        counters: other counters (connects, disconnects, violations, ...).
        csms_connected: stations connected to the CSMS, where known.
        rows: the stations (``offset`` / ``limit`` applied), or ``None`` if not asked for.
        execution: fleet's own load per role (``cpu`` %, ``lag_p99_ms``, ``lag_max_ms``; a
            fleet run only, see :mod:`fleet.run.execution`).
        figures_age_s: how old the figures (states, totals, rates) are: seconds since the
            slowest worker took them (about a second normally; more when a worker is too
            busy to report: the figures are then its last ones, not zeros).
    """

    at: float
    kind: str = "fleet"
    phase: str = ""
    total: int = 0
    states: dict[str, int] = {}
    calls_per_s: float = 0.0
    completed: int = 0
    failed: int = 0
    actions: list[ActionLatency] = []
    errors: dict[str, int] = {}
    reconnects: int = 0
    counters: dict[str, int] = {}
    csms_connected: int = 0
    rows: list[StationRow] | None = None
    execution: dict[str, dict[str, float]] = {}
    failed_per_s: float = 0.0
    figures_age_s: float = 0.0


class TransactionInfo(msgspec.Struct, frozen=True):
    """A transaction on an EVSE."""

    id: str
    power_w: float = 0.0
    energy_wh: float = 0.0
    soc: float | None = None
    id_token: str | None = None
    started_at: str | None = None
    state: str | None = None


class ConnectorInfo(msgspec.Struct, frozen=True):
    """A connector and its status."""

    id: int
    status: str = "Unknown"


class CostInfo(msgspec.Struct, frozen=True):
    """The cost of a transaction as the station calculated it (OCPP 2.1 local cost).

    Attributes:
        transaction_id: the transaction.
        currency: ISO 4217.
        excl_tax, incl_tax: the total excluding / including tax, where the cost has it.
        final: the final cost (the transaction ended), else the running cost.
        type_of_cost: ``NormalCost``, ``MinCost`` or ``MaxCost``.
        tariff_id: the tariff in force, if known.
    """

    transaction_id: str
    currency: str
    excl_tax: float | None = None
    incl_tax: float | None = None
    final: bool = False
    type_of_cost: str = "NormalCost"
    tariff_id: str | None = None


class EvseInfo(msgspec.Struct, frozen=True):
    """An EVSE: its connectors and its transaction, if any.

    Attributes:
        export_wh: its export register (energy given by discharging vehicles, V2X), Wh,
            where the EVSE can discharge; else None. A discharging transaction's
            ``power_w`` is negative.
        cost: the cost of its transaction (running), or of its last one (final), where
            the station calculates cost; else None.
    """

    id: int
    connectors: list[ConnectorInfo] = []
    transaction: TransactionInfo | None = None
    export_wh: float | None = None
    cost: CostInfo | None = None


class DerControlInfo(msgspec.Struct, frozen=True):
    """A DER control a station holds (OCPP 2.1): its id and type; ``active``: in force now;
    ``is_default``: a default control (else scheduled); ``superseded`` by a higher priority."""

    id: str
    type: str
    active: bool = False
    is_default: bool = False
    superseded: bool = False


class Variable(msgspec.Struct, frozen=True):
    """One setting of a station: a device-model variable (OCPP 2.0.1 component/variable),
    or an OCPP 1.6 configuration key (``component`` empty, ``variable`` the key);
    ``readonly``: the CSMS cannot change it."""

    component: str
    variable: str
    value: str | None = None
    instance: str | None = None
    evse_id: int | None = None
    readonly: bool = False


class StationError(msgspec.Struct, frozen=True):
    """An error a station saw."""

    message: str
    at: float | None = None


class StationDetail(msgspec.Struct, frozen=True):
    """Everything about one station.

    Attributes:
        row: its :class:`StationRow`.
        url: the CSMS it connects to, if known.
        ocpp_version: negotiated version, if connected.
        evses: EVSEs with connectors and transactions.
        variables: device-model variables.
        errors: its last errors, oldest first.
        counters: every counter it keeps.
        extra: anything else its actor reports.
        der_controls: the DER controls it holds, where it simulates DER control (OCPP 2.1);
            else None.
    """

    row: StationRow
    url: str | None = None
    ocpp_version: str | None = None
    evses: list[EvseInfo] = []
    variables: list[Variable] = []
    errors: list[StationError] = []
    counters: dict[str, int] = {}
    extra: dict[str, Any] = {}
    der_controls: list[DerControlInfo] | None = None


class ServerInfo(msgspec.Struct, frozen=True):
    """What a control server serves."""

    kind: str
    version: str
    commands: list[str]
    stations: int = 0
    csms: bool = False


class Ack(msgspec.Struct, frozen=True):
    """A command was carried out (or handed to the station's mailbox)."""

    ok: bool = True
    station_id: str | None = None
    message: str = ""


class SubscribeResult(msgspec.Struct, frozen=True):
    """A subscription started; its events carry ``subscription``."""

    subscription: str
    station_id: str | None = None
    source: str = "auto"


class AddStationsResult(msgspec.Struct, frozen=True):
    """The ids of the stations added."""

    station_ids: list[str]


class RemoveStationsResult(msgspec.Struct, frozen=True):
    """Stations removed, and the ids that named no station."""

    removed: list[str]
    missing: list[str] = []


class CallErrorInfo(msgspec.Struct, frozen=True):
    """Why a request got no valid response: the CALLERROR, or a local failure."""

    code: str
    description: str = ""
    details: dict[str, Any] = {}


class SendResult(msgspec.Struct, frozen=True):
    """The outcome of ``send`` / ``csms_send``.

    Attributes:
        outcome: ``response`` (a CALLRESULT: ``response`` holds its payload),
            ``callerror`` (the peer's CALLERROR), ``invalid_response`` (it did not
            validate), ``timeout`` or ``connection_lost``; ``error`` then says more.
        message_id: the request's message id; ``tag``: the caller's tag, returned.
    """

    station_id: str
    action: str
    message_id: str
    outcome: str
    response: Any = None
    error: CallErrorInfo | None = None
    tag: Any = None


class ConnectionRow(msgspec.Struct, frozen=True):
    """A station connected to the CSMS."""

    station_id: str
    ocpp_version: str = ""
    remote: str = ""
    connected_at: float = 0.0


class CsmsConnectionsResult(msgspec.Struct, frozen=True):
    connections: list[ConnectionRow]


class PendingRow(msgspec.Struct, frozen=True):
    """A CSMS request in flight or queued."""

    station_id: str
    message_id: str
    action: str
    tag: Any = None


class CsmsPendingResult(msgspec.Struct, frozen=True):
    pending: list[PendingRow]


class AuthList(msgspec.Struct, frozen=True):
    """The auth list without its secrets: ``enabled`` is false when every station is accepted."""

    enabled: bool
    station_ids: list[str] = []


class AuthCs(msgspec.Struct, frozen=True):
    """Whether a station has a password (the password itself is never sent)."""

    station_id: str
    has_password: bool
    auth_enabled: bool


class FaultResult(msgspec.Struct, frozen=True):
    """What a fault command did (``disconnect``, ``partition``, ``restart_csms``, ``set_boot_status``).

    Attributes:
        command: the command.
        station_ids: the stations it hit (for a ``share``: the seeded pick), sorted.
        dropped: connections dropped now (stations that were connected; for
            ``restart_csms``: every connection the CSMS had).
        until: wall-clock time the fault ends (``partition``: the stations may
            reconnect; ``restart_csms``: the CSMS listens again).
        message: what happened, for people.
    """

    command: str
    station_ids: list[str] = []
    dropped: int = 0
    until: float | None = None
    message: str = ""


class ControlEvent(msgspec.Struct, frozen=True):
    """One event of a subscription.

    Attributes:
        station_id: the station.
        kind: ``connected``, ``disconnected``, ``request``, ``response`` or ``error``.
        at: wall-clock time.
        direction: ``in`` or ``out`` as the publisher (station or CSMS) sees it.
        source: ``station`` or ``csms``: whose side this is.
        action, message_id, payload, tag: the OCPP message (``payload`` of an error:
            code, description, details).
        frame: the OCPP-J frame as JSON (``[2, id, action, payload]``, ``[3, id, payload]``,
            ``[4, id, code, description, details]``).
        ocpp_version: the version; ``reason``: why a connection closed.
    """

    station_id: str
    kind: str
    at: float = 0.0
    direction: str | None = None
    source: str = "station"
    action: str | None = None
    message_id: str | None = None
    payload: Any = None
    tag: Any = None
    frame: list[Any] | None = None
    ocpp_version: str | None = None
    reason: str | None = None


# ---------------------------------------------------------------- replies


class Result(msgspec.Struct, tag_field="type", tag="result", kw_only=True):
    """The answer to a command: ``result`` is its payload (see :data:`RESULT_TYPES`)."""

    id: RequestId = None
    result: Any = None


class Error(msgspec.Struct, tag_field="type", tag="error", kw_only=True):
    """A command failed (see :class:`ErrorCode`); never closes the connection."""

    id: RequestId = None
    code: str
    message: str
    details: dict[str, Any] = {}


class Event(msgspec.Struct, tag_field="type", tag="event", kw_only=True):
    """A pushed event of a subscription."""

    subscription: str
    event: ControlEvent


class _RawResult(msgspec.Struct, tag_field="type", tag="result", kw_only=True):
    id: RequestId = None
    result: msgspec.Raw = msgspec.Raw(b"null")


class _RawEvent(msgspec.Struct, tag_field="type", tag="event", kw_only=True):
    subscription: str
    event: ControlEvent


Reply = Result | Error | Event

#: Command name -> the type of its ``result``.
RESULT_TYPES: Final[dict[str, Any]] = {
    "info": ServerInfo,
    "snapshot": FleetSnapshot,
    "station": StationDetail,
    "subscribe": SubscribeResult,
    "unsubscribe": Ack,
    "connect": Ack,
    "close": Ack,
    "set_retry_backoff": Ack,
    "plug": Ack,
    "unplug": Ack,
    "start_transaction": Ack,
    "stop_transaction": Ack,
    "reset": Ack,
    "add_stations": AddStationsResult,
    "remove_stations": RemoveStationsResult,
    "send": SendResult,
    "csms_connections": CsmsConnectionsResult,
    "csms_pending": CsmsPendingResult,
    "get_auth_list": AuthList,
    "set_auth_list": Ack,
    "get_auth_cs": AuthCs,
    "set_auth_cs": Ack,
    "csms_send": SendResult,
    "disconnect": FaultResult,
    "partition": FaultResult,
    "restart_csms": FaultResult,
    "set_boot_status": FaultResult,
}

_encoder: Final = msgspec.json.Encoder(enc_hook=enc_hook)
_command_decoder: Final[msgspec.json.Decoder[Command]] = msgspec.json.Decoder(Command)
_reply_decoder: Final = msgspec.json.Decoder(_RawResult | Error | _RawEvent)


def encode(message: Any) -> bytes:
    """JSON of any control message (OCPP payload Structs inside included)."""
    return _encoder.encode(message)


def command_decoder() -> msgspec.json.Decoder[Command]:
    """The decoder of commands (raises ``msgspec.DecodeError`` / ``ValidationError``)."""
    return _command_decoder


def reply_decoder() -> msgspec.json.Decoder[Any]:
    """The decoder of replies, ``result`` left raw (``msgspec.Raw``) for a typed second decode."""
    return _reply_decoder
