"""Station profiles: one kind of charging station, described in TOML.

A profile says what a simulated station *is* (identity, EVSEs and connectors,
electrical limits, device-model settings) and how it *behaves* (the automatic
transaction generator: when drivers arrive, how long they stay, how much energy
their EV wants, which id tokens they present). Every random choice a station
makes is drawn from one random stream seeded per station, so a run with the
same seeds is reproducible.

Every field has a default: an empty file is a valid profile (a single-EVSE,
11 kW, three-phase AC wallbox with one Type 2 connector). A complete example::

    name = "public-ac-post"
    description = "Two 22 kW AC EVSEs"
    heartbeat_interval = 300

    [identity]
    vendor = "fleet"
    model = "AC-Post-22"
    firmware_version = "2.4.1"
    serial_number = "ACP-{station_id}"

    [security]
    profile = 1
    password = "fleet-{station_id}-password"

    [retry_backoff]
    wait_minimum = 5
    repeat_times = 5
    random_range = 5

    [sampled_data]
    tx_updated_interval = 60
    tx_updated_measurands = ["Energy.Active.Import.Register", "Power.Active.Import", "SoC"]

    [[evses]]
    max_power = 22000
    phases = 3
    [[evses.connectors]]
    type = "cType2"

    [[evses]]
    max_power = 22000

    [vehicle]
    battery_capacity = [40000, 90000]
    max_power = [7400, 22000]
    initial_soc = [10, 60]

    [sessions]
    enabled = true
    idle_time = [300, 1800]
    session_duration = [1200, 5400]
    energy_demand = [5000, 40000]
    authorization_failure_share = 0.05
    id_tokens = [
        { id_token = "FLEET-0001", type = "ISO14443", weight = 3 },
        { id_token = "FLEET-0002", type = "ISO14443" },
    ]

    [variables]
    "TxCtrlr.EVConnectionTimeOut" = 90
    "AuthCtrlr.LocalPreAuthorize" = true

Ranges (``[min, max]``) draw uniformly between the two bounds; a single number
means exactly that value. Durations are seconds, energy Wh, power W.

:func:`read_profile` reads a file and validates its format;
:func:`fleet.actors.station.load_profile` adds what the profile's OCPP version knows
(its variables). A bad file raises :class:`ProfileError` naming the file, the field
(``$.evses[0].max_power``), what was expected and, when it can be found, the line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import msgspec

from .faults import FaultSpec
from .ocpp import VERSIONS_BY_NAME, ProtocolVersion
from .ocpp.v201 import Connector, IdTokenEnum, Measurand

__all__ = [
    "BatterySwap",
    "ConnectorProfile",
    "CustomVariable",
    "DefaultTariff",
    "DerSpec",
    "DynamicCharging",
    "EventStreams",
    "EvseProfile",
    "IdTokenSpec",
    "Identity",
    "LocalCost",
    "PeriodicEventStream",
    "ProfileError",
    "ProfileText",
    "Range",
    "RetryBackoff",
    "SampledData",
    "Security",
    "SessionGenerator",
    "StationProfile",
    "VehicleProfile",
    "WebPayment",
    "draw",
    "read_profile",
    "render_pattern",
    "station_password",
]

#: A number, or ``[min, max]`` drawn uniformly.
Range = float | tuple[float, float]

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file, the field and what was expected."""


class Uniform(Protocol):
    """What :func:`draw` needs of a random generator (``random.Random``, a station's own stream)."""

    def uniform(self, a: float, b: float) -> float: ...


def draw(rng: Uniform, value: Range) -> float:
    """One value of a :data:`Range`: the number itself, or uniform in ``[min, max]``."""
    if isinstance(value, tuple):
        low, high = value
        return low if low == high else rng.uniform(low, high)
    return float(value)


def _check_range(name: str, value: Range, minimum: float = 0.0, maximum: float | None = None) -> None:
    bounds = value if isinstance(value, tuple) else (value, value)
    low, high = bounds
    if low > high:
        raise ValueError(f"`{name}`: expected [min, max] with min <= max, got [{low}, {high}]")
    if low < minimum:
        raise ValueError(f"`{name}`: expected values >= {minimum}, got {low}")
    if maximum is not None and high > maximum:
        raise ValueError(f"`{name}`: expected values <= {maximum}, got {high}")


def render_pattern(pattern: str, station_id: str) -> str:
    """``pattern`` with ``{station_id}`` replaced (the only field patterns know)."""
    return pattern.replace("{station_id}", station_id)


class Identity(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What the station reports in its BootNotification.

    Attributes:
        vendor: vendor name (at most 50 characters).
        model: model name (at most 20 characters).
        firmware_version: firmware version (at most 50 characters).
        serial_number: serial-number pattern; ``{station_id}`` is replaced by the
            station id; the result is cut to the 25 characters OCPP allows.
        iccid: the modem's SIM card id, if the station reports a modem.
        imsi: the modem's subscriber id, if the station reports a modem.
    """

    vendor: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] = "fleet"
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=20)] = "SimAC-11"
    firmware_version: Annotated[str, msgspec.Meta(max_length=50)] = "1.0.0"
    serial_number: str = "SN-{station_id}"
    iccid: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    imsi: Annotated[str, msgspec.Meta(max_length=20)] | None = None


class Security(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How the station authenticates to the CSMS.

    Attributes:
        profile: the OCPP security profile: ``0`` no authentication (not an OCPP
            profile; for CSMSs under test without auth), ``1`` HTTP Basic auth over
            ``ws://``, ``2`` Basic auth over TLS (``wss://``), ``3`` TLS with a client
            certificate (no password).
        password: Basic-auth password pattern for profiles 1 and 2; ``{station_id}``
            is replaced by the station id. OCPP wants 16 to 40 characters.
    """

    profile: Annotated[int, msgspec.Meta(ge=0, le=3)] = 1
    password: str | None = "fleet-{station_id}-password"


class RetryBackoff(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Reconnection back-off: the OCPPCommCtrlr RetryBackOff* variables.

    After a connection loss the station waits ``wait_minimum`` seconds, doubling the
    wait after each failed attempt up to ``repeat_times`` times, and adds a fresh
    uniform random ``0..random_range`` seconds to every wait (OCPP-J 2.0.1, part 4
    section 5.3). A successful connection starts over.

    Attributes:
        wait_minimum: RetryBackOffWaitMinimum, seconds.
        repeat_times: RetryBackOffRepeatTimes, doublings before the wait stays constant.
        random_range: RetryBackOffRandomRange, seconds of random jitter at most.
    """

    wait_minimum: Annotated[int, msgspec.Meta(ge=0)] = 5
    repeat_times: Annotated[int, msgspec.Meta(ge=0, le=30)] = 5
    random_range: Annotated[int, msgspec.Meta(ge=0)] = 5


class SampledData(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Meter values: the SampledDataCtrlr and AlignedDataCtrlr variables.

    Attributes:
        tx_updated_interval: seconds between periodic meter values of a running
            transaction (TransactionEvent Updated, triggerReason MeterValuePeriodic);
            ``0`` sends none.
        tx_started_measurands: measurands in the Started event.
        tx_updated_measurands: measurands in periodic Updated events.
        tx_ended_measurands: measurands in the Ended event (the final values).
        aligned_interval: seconds between clock-aligned meter values (MeterValues,
            or TransactionEvent with triggerReason MeterValueClock during a
            transaction); ``0`` sends none.
        aligned_measurands: measurands of clock-aligned and triggered meter values.
    """

    tx_updated_interval: Annotated[int, msgspec.Meta(ge=0)] = 60
    tx_started_measurands: list[Measurand] = msgspec.field(
        default_factory=lambda: [Measurand.ENERGY_ACTIVE_IMPORT_REGISTER]
    )
    tx_updated_measurands: list[Measurand] = msgspec.field(
        default_factory=lambda: [
            Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
            Measurand.POWER_ACTIVE_IMPORT,
            Measurand.CURRENT_IMPORT,
            Measurand.VOLTAGE,
            Measurand.SOC,
        ]
    )
    tx_ended_measurands: list[Measurand] = msgspec.field(
        default_factory=lambda: [Measurand.ENERGY_ACTIVE_IMPORT_REGISTER]
    )
    aligned_interval: Annotated[int, msgspec.Meta(ge=0)] = 0
    aligned_measurands: list[Measurand] = msgspec.field(
        default_factory=lambda: [Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, Measurand.POWER_ACTIVE_IMPORT]
    )


class ConnectorProfile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One connector of an EVSE.

    Attributes:
        type: the OCPP connector type (``cType2``, ``cCCS2``, ``sType2``, ...).
    """

    type: Connector = Connector.C_TYPE2


class EvseProfile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One EVSE (one vehicle at a time) with its connectors.

    Attributes:
        max_power: the most the EVSE delivers, W.
        phases: phases used for AC (1 to 3); ignored for DC.
        voltage: phase-to-neutral voltage for AC, or the DC voltage, V.
        current_type: ``"AC"`` or ``"DC"``.
        connectors: the connectors (at least one); only one is used at a time.
        bidirectional: the EVSE can discharge a vehicle that can (V2X; a version that
            simulates it must be offered: OCPP 2.1).
        max_discharge_power: the most the EVSE takes from a discharging vehicle, W
            (default: ``max_power``).
    """

    max_power: Annotated[float, msgspec.Meta(gt=0)] = 11000.0
    phases: Annotated[int, msgspec.Meta(ge=1, le=3)] = 3
    voltage: Annotated[float, msgspec.Meta(gt=0)] = 230.0
    current_type: Literal["AC", "DC"] = "AC"
    connectors: Annotated[list[ConnectorProfile], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: [ConnectorProfile()]
    )
    bidirectional: bool = False
    max_discharge_power: Annotated[float, msgspec.Meta(gt=0)] | None = None


class VehicleProfile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The electric vehicles that arrive (each drawn anew per session).

    Attributes:
        battery_capacity: usable battery capacity, Wh.
        max_power: the most the vehicle accepts, W.
        initial_soc: state of charge on arrival, percent.
        bidirectional_share: share of the vehicles (0..1) that can discharge (V2X, on a
            ``bidirectional`` EVSE; a version that simulates it must be offered: OCPP 2.1).
        max_discharge_power: the most a vehicle that can discharge gives, W.
        min_soc: the state of charge, percent, below which a vehicle does not discharge.
    """

    battery_capacity: Range = (40000.0, 80000.0)
    max_power: Range = (7400.0, 11000.0)
    initial_soc: Range = (10.0, 60.0)
    bidirectional_share: Share = 0.0
    max_discharge_power: Range = (7400.0, 11000.0)
    min_soc: Range = 20.0

    def __post_init__(self) -> None:
        _check_range("battery_capacity", self.battery_capacity, 1.0)
        _check_range("max_power", self.max_power, 1.0)
        _check_range("initial_soc", self.initial_soc, 0.0, 100.0)
        _check_range("max_discharge_power", self.max_discharge_power, 1.0)
        _check_range("min_soc", self.min_soc, 0.0, 100.0)


class DerSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """DER (distributed energy resource) control of the station's inverter (OCPP 2.1 R).

    Attributes:
        enabled: SetDERControl, GetDERControl and ClearDERControl are answered, the controls
            stored and reported (ReportDERControl, NotifyDERStartStop); a version that
            simulates it must be offered (OCPP 2.1). Off: they are answered NotSupported.
        grid_event_interval: simulated seconds between two simulated grid events, each
            reported with a NotifyDERAlarm (an alarm, then its end); ``0``: none.
    """

    enabled: bool = False
    grid_event_interval: NonNegative = 0.0


class IdTokenSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An id token the simulated drivers present.

    Attributes:
        id_token: the token value (at most 36 characters).
        type: the OCPP id-token type (``ISO14443``, ``eMAID``, ``Central``, ...).
        weight: relative frequency among the tokens of its list.
    """

    id_token: Annotated[str, msgspec.Meta(min_length=1, max_length=36)]
    type: IdTokenEnum = IdTokenEnum.ISO14443
    weight: NonNegative = 1.0


class SessionGenerator(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The automatic transaction generator: simulated drivers, one at a time per EVSE.

    A session: the EVSE idles ``idle_time``; a vehicle plugs in; after
    ``plug_in_delay`` the driver presents a token (Authorize); if accepted the
    vehicle charges until it has taken ``energy_demand`` or is full; after
    ``session_duration`` (counted from plug-in) the driver stops with the token,
    or (a ``stop_by_unplug_share`` of sessions) just unplugs; ``plug_out_delay``
    later the cable is out and the EVSE idles again. A rejected token ends the
    visit: the vehicle leaves after ``plug_out_delay``.

    Attributes:
        enabled: run the generator on every EVSE once the station is accepted.
        start_delay: seconds from the first accepted boot to the first arrival.
        idle_time: seconds an EVSE stays free between sessions.
        session_duration: seconds from plug-in until the driver stops.
        energy_demand: energy the vehicle wants, Wh (capped by its free battery).
        plug_in_delay: seconds from plug-in to presenting the token.
        plug_out_delay: seconds from the end of charging to unplugging.
        id_tokens: the tokens presented, drawn by weight.
        invalid_id_tokens: tokens presented in the share of sessions meant to fail
            authorization (the CSMS is expected to reject them).
        authorization_failure_share: share of sessions (0..1) presenting an invalid token.
        stop_by_unplug_share: share of sessions (0..1) ended by unplugging instead of the token.
    """

    enabled: bool = True
    start_delay: Range = (0.0, 30.0)
    idle_time: Range = (60.0, 600.0)
    session_duration: Range = (900.0, 3600.0)
    energy_demand: Range = (5000.0, 30000.0)
    plug_in_delay: Range = (2.0, 10.0)
    plug_out_delay: Range = (2.0, 10.0)
    id_tokens: list[IdTokenSpec] = msgspec.field(
        default_factory=lambda: [IdTokenSpec("FLEET-0001"), IdTokenSpec("FLEET-0002")]
    )
    invalid_id_tokens: list[IdTokenSpec] = msgspec.field(default_factory=lambda: [IdTokenSpec("FLEET-INVALID")])
    authorization_failure_share: Share = 0.0
    stop_by_unplug_share: Share = 0.2

    def __post_init__(self) -> None:
        for name in ("start_delay", "idle_time", "session_duration", "energy_demand", "plug_in_delay", "plug_out_delay"):
            _check_range(name, getattr(self, name))
        if self.enabled and not any(t.weight > 0 for t in self.id_tokens):
            raise ValueError("`id_tokens`: expected at least one token with a weight > 0")
        if self.authorization_failure_share > 0 and not any(t.weight > 0 for t in self.invalid_id_tokens):
            raise ValueError("`invalid_id_tokens`: expected at least one token when authorization_failure_share > 0")


class DefaultTariff(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A simple default tariff a station starts with (as if the CSMS had set it with
    SetDefaultTariff on every EVSE): one price per kWh, per charging minute, per idle
    minute and a fixed fee, and one tax rate.

    Attributes:
        id: the tariff's ``tariffId``.
        currency: ISO 4217 currency code.
        price_kwh: price per kWh of energy (excluding tax).
        price_minute: price per minute of charging time.
        idle_price_minute: price per minute of idle time (connected, not charging).
        fixed_fee: a fee charged once at the start of a transaction.
        tax: tax rate in percent, on every price (``0``: none).
    """

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=60)] = "DEFAULT"
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] = "EUR"
    price_kwh: NonNegative = 0.0
    price_minute: NonNegative = 0.0
    idle_price_minute: NonNegative = 0.0
    fixed_fee: NonNegative = 0.0
    tax: Annotated[float, msgspec.Meta(ge=0, le=100)] = 0.0


class LocalCost(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """OCPP 2.1 local cost calculation (use cases I07-I12); a version that simulates it must
    be offered (OCPP 2.1).

    Attributes:
        enabled: the station takes tariffs (SetDefaultTariff, GetTariffs, ClearTariffs,
            ChangeTransactionTariff) and computes the cost of each transaction that has
            one: the running cost in its TransactionEvents, the final cost details in its
            last one. Off: those requests are answered as not supported (Rejected, NoTariff).
        running_cost_interval: seconds between running cost updates of a transaction
            (TransactionEvent Updated, triggerReason RunningCost, with costDetails);
            ``0``: none (the final cost is still sent).
        max_elements: the most price elements each field of a tariff may have
            (TariffMaxElements; more: TooManyElements).
        default_tariff: a default tariff installed on every EVSE at start; none if absent.
    """

    enabled: bool = False
    running_cost_interval: Annotated[int, msgspec.Meta(ge=0)] = 60
    max_elements: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    default_tariff: DefaultTariff | None = None


class PeriodicEventStream(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One variable the station monitors periodically and reports over a periodic event stream.

    Attributes:
        component: the component (``ChargingStation`` or ``EVSE``).
        variable: the variable (``Power``: the power drawn, W; ``AvailabilityState``).
        evse: the EVSE, for the ``EVSE`` component.
        period: seconds between two samples of the variable (the monitor's period).
        interval: seconds between two NotifyPeriodicEventStream messages (the stream's
            ``interval``; ``0``: only when ``values`` samples are buffered).
        values: send as soon as this many samples are buffered, at most this many per
            message (the stream's ``values``; ``0``: every ``interval``, all buffered).
    """

    variable: Literal["Power", "AvailabilityState"] = "Power"
    component: Literal["ChargingStation", "EVSE"] = "ChargingStation"
    evse: Annotated[int, msgspec.Meta(ge=1)] | None = None
    period: Annotated[int, msgspec.Meta(ge=1)] = 10
    interval: Annotated[int, msgspec.Meta(ge=0)] = 60
    values: Annotated[int, msgspec.Meta(ge=0)] = 0

    def __post_init__(self) -> None:
        if self.interval == 0 and self.values == 0:
            raise ValueError("Expected an interval or a number of values to send at (N11.FR.09), got neither")


class EventStreams(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """OCPP 2.1 periodic event streams (use cases N11-N15); a version that simulates them must
    be offered (OCPP 2.1).

    Attributes:
        enabled: the station opens a stream (OpenPeriodicEventStream) for each of
            ``streams`` once the CSMS accepted its boot, and sends what it samples as
            NotifyPeriodicEventStream (an OCPP-J SEND, never answered); it answers
            GetPeriodicEventStream and AdjustPeriodicEventStream, and opens a stream for
            a monitor the CSMS sets with a ``periodicEventStream``. Off: those requests
            are answered as not supported.
        streams: the preconfigured monitors reported over a stream.
    """

    enabled: bool = False
    streams: list[PeriodicEventStream] = []


class DynamicCharging(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """OCPP 2.1 dynamic charging profiles and priority charging (use cases K28, K21); a
    version that simulates them must be offered (OCPP 2.1).

    Attributes:
        enabled: UpdateDynamicSchedule changes the limit of a charging profile of kind
            Dynamic at once, and the station asks for updates itself
            (PullDynamicScheduleUpdate) every ``dynUpdateInterval`` of such a profile;
            UsePriorityCharging switches a transaction to the station's PriorityCharging
            profile (and back), which the station confirms with NotifyPriorityCharging.
            Off: those requests are answered Rejected / NoProfile.
    """

    enabled: bool = False


class BatterySwap(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """OCPP 2.1 battery swapping (use cases S02, S03); a version that simulates it must be
    offered (OCPP 2.1).

    Attributes:
        enabled: RequestBatterySwap is answered Accepted while a charged battery is in
            stock (else Rejected, NoBatteryAvailable), and the swap follows: the driver's
            empty battery goes in (BatterySwap BatteryIn, with the request's requestId and
            idToken), a charged one comes out (BatteryOut) ``swap_time`` simulated
            seconds later. Off: RequestBatterySwap is answered Rejected.
        batteries: charged batteries in stock at the start (a swap takes one and returns
            an empty one to charge, not counted again).
        swap_time: simulated seconds between BatteryIn and BatteryOut.
    """

    enabled: bool = False
    batteries: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 4
    swap_time: NonNegative = 30.0


class WebPayment(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """OCPP 2.1 ad hoc payment via a QR code (use case C25) and its settlement; a version that
    simulates it must be offered (OCPP 2.1).

    Attributes:
        enabled: NotifyWebPaymentStarted is answered and the driver who scanned the QR code
            plugs in at the EVSE at once (its transaction starts when the CSMS sends
            RequestStartTransaction with the payment's idToken of type DirectPayment); a
            transaction paid so ends with a NotifySettlement (Settled, the amount its cost
            came to, 0 without local cost). Off: NotifyWebPaymentStarted is answered and
            nothing follows.
        vat_number: a VAT number the driver enters for a company receipt: checked with
            VatNumberValidation when a paid transaction starts, and given in its
            NotifySettlement when the CSMS accepted it. Empty: none.
    """

    enabled: bool = False
    vat_number: Annotated[str, msgspec.Meta(max_length=20)] = ""


class CustomVariable(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A vendor variable added to the device model.

    Attributes:
        component: component name.
        variable: variable name.
        value: initial actual value.
        data_type: ``string``, ``decimal``, ``integer``, ``dateTime``, ``boolean``,
            ``OptionList``, ``SequenceList`` or ``MemberList``.
        mutability: ``ReadOnly``, ``WriteOnly`` or ``ReadWrite``.
        unit: unit of measure, if any.
        values_list: allowed values (comma separated) for the list types.
        component_instance: the component's instance name, if any.
        variable_instance: the variable's instance name, if any.
        evse: the EVSE id, for an EVSE-scoped component.
        connector: the connector id, for a connector-scoped component.
    """

    component: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    variable: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    value: str = ""
    data_type: Literal[
        "string", "decimal", "integer", "dateTime", "boolean", "OptionList", "SequenceList", "MemberList"
    ] = "string"
    mutability: Literal["ReadOnly", "WriteOnly", "ReadWrite"] = "ReadWrite"
    unit: str | None = None
    values_list: str | None = None
    component_instance: str | None = None
    variable_instance: str | None = None
    evse: Annotated[int, msgspec.Meta(ge=1)] | None = None
    connector: Annotated[int, msgspec.Meta(ge=1)] | None = None


class StationProfile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One kind of station: identity, hardware, device-model settings and behaviour.

    Attributes:
        name: a short name for reports.
        description: free text.
        ocpp_version: the OCPP version spoken (``"2.0.1"``), one of
            :data:`fleet.ocpp.VERSIONS_BY_NAME`, or the versions offered in order of
            preference (``["2.1", "2.0.1"]``, as real stations offer them; no
            duplicates): the station offers their subprotocols and speaks the one the
            CSMS selects (:attr:`ocpp_versions`, :attr:`protocol_versions`).
        identity: what BootNotification reports.
        security: authentication to the CSMS.
        retry_backoff: reconnection back-off.
        heartbeat_interval: seconds between heartbeats until the CSMS sets one.
        boot_retry_interval: seconds before retrying a BootNotification that failed
            or was Pending/Rejected with interval 0.
        ping_interval: seconds between websocket pings (WebSocketPingInterval);
            ``0`` sends none.
        message_timeout: seconds a request waits for its answer (MessageTimeout).
        offline_queue_limit: TransactionEvents kept while offline; beyond it, the
            oldest periodic meter-value updates are dropped (never Started/Ended).
        seq_no: ``"station"``: TransactionEvent seqNo counts on across transactions
            (OCPP 2.0.1 edition 1); ``"transaction"``: it restarts at 0 for every
            transaction (recommended by edition 2).
        boot_on_reconnect: send a BootNotification after every reconnection, not
            only after a (re)boot as OCPP requires.
        reboot_delay: seconds a simulated reboot (Reset, firmware update) takes.
        firmware_step: seconds between the simulated firmware/log status notifications.
        sampled_data: meter values.
        evses: the EVSEs (at least one), numbered from 1 in this order.
        vehicle: the vehicles that arrive.
        sessions: the automatic transaction generator.
        variables: device-model overrides, ``"Component.Variable" = value``; an
            instance goes in brackets: ``"OCPPCommCtrlr.MessageTimeout[Default]"``.
        custom_variables: vendor variables added to the device model.
        local_cost: OCPP 2.1 tariffs and local cost calculation (:class:`LocalCost`).
        event_streams: OCPP 2.1 periodic event streams (:class:`EventStreams`).
        dynamic_charging: OCPP 2.1 dynamic charging profiles and priority charging
            (:class:`DynamicCharging`).
        battery_swap: OCPP 2.1 battery swapping (:class:`BatterySwap`).
        web_payment: OCPP 2.1 ad hoc web payment and settlement (:class:`WebPayment`).
        faults: fault injection for this profile's stations (disconnects, partitions,
            slow or silent answers, malformed traffic, boot loops, clock skew): see
            :class:`fleet.faults.FaultSpec`. Empty: no faults.
        der: DER control (OCPP 2.1): see :class:`DerSpec`. Default: off.
    """

    name: str = "default"
    description: str = ""
    ocpp_version: str | tuple[str, ...] = "2.0.1"
    identity: Identity = Identity()
    security: Security = Security()
    retry_backoff: RetryBackoff = RetryBackoff()
    heartbeat_interval: Annotated[int, msgspec.Meta(gt=0)] = 300
    boot_retry_interval: Annotated[int, msgspec.Meta(gt=0)] = 30
    ping_interval: Annotated[int, msgspec.Meta(ge=0)] = 30
    message_timeout: Annotated[int, msgspec.Meta(gt=0)] = 30
    offline_queue_limit: Annotated[int, msgspec.Meta(ge=10)] = 10000
    seq_no: Literal["station", "transaction"] = "station"
    boot_on_reconnect: bool = False
    reboot_delay: NonNegative = 2.0
    firmware_step: NonNegative = 2.0
    sampled_data: SampledData = SampledData()
    evses: Annotated[list[EvseProfile], msgspec.Meta(min_length=1, max_length=64)] = msgspec.field(
        default_factory=lambda: [EvseProfile()]
    )
    vehicle: VehicleProfile = VehicleProfile()
    sessions: SessionGenerator = SessionGenerator()
    variables: dict[str, str | int | float | bool] = {}
    custom_variables: list[CustomVariable] = []
    faults: FaultSpec = FaultSpec()
    der: DerSpec = DerSpec()
    local_cost: LocalCost = LocalCost()
    event_streams: EventStreams = EventStreams()
    dynamic_charging: DynamicCharging = DynamicCharging()
    battery_swap: BatterySwap = BatterySwap()
    web_payment: WebPayment = WebPayment()

    def __post_init__(self) -> None:
        offered = self.ocpp_versions
        for n, version in enumerate(offered):
            if version not in VERSIONS_BY_NAME:
                known = ", ".join(f'"{name}"' for name in VERSIONS_BY_NAME)
                at = "" if isinstance(self.ocpp_version, str) else f"[{n}]"
                raise ValueError(
                    f"Expected one of {known} (the OCPP versions fleet speaks), got {version!r}"
                    f" - at `$.ocpp_version{at}`"
                )
            if version in offered[:n]:
                raise ValueError(f"Expected each version once, got {version!r} twice - at `$.ocpp_version[{n}]`")
        if not offered:
            raise ValueError("Expected at least one OCPP version - at `$.ocpp_version`")
        for n, stream in enumerate(self.event_streams.streams):
            at = f"`$.event_streams.streams[{n}].evse`"
            if stream.component == "EVSE" and not (stream.evse is not None and stream.evse <= len(self.evses)):
                raise ValueError(f"Expected an EVSE of the profile (1 to {len(self.evses)}) for component EVSE - at {at}")
            if stream.component != "EVSE" and stream.evse is not None:
                raise ValueError(f"Expected no EVSE for component {stream.component} - at {at}")

    @property
    def ocpp_versions(self) -> tuple[str, ...]:
        """The OCPP versions offered, in order of preference (one, if :attr:`ocpp_version` names one)."""
        version = self.ocpp_version
        return (version,) if isinstance(version, str) else version

    def features(self) -> dict[str, str]:
        """The simulated features the profile switches on that not every OCPP version has
        (``"v2x"``, ``"der"``, ``"local_cost"``, ``"event_streams"``, ``"dynamic_charging"``,
        ``"battery_swap"``, ``"web_payment"``), each with
        the field that switches it on (``$.der.enabled``); loading a profile checks that a version it
        offers simulates each (:func:`fleet.actors.station.load_profile`)."""
        used: dict[str, str] = {}
        for n, evse in enumerate(self.evses):
            if evse.bidirectional:
                used.setdefault("v2x", f"$.evses[{n}].bidirectional")
        if self.vehicle.bidirectional_share > 0:
            used.setdefault("v2x", "$.vehicle.bidirectional_share")
        if self.der.enabled:
            used["der"] = "$.der.enabled"
        if self.local_cost.enabled:
            used["local_cost"] = "$.local_cost.enabled"
        if self.event_streams.enabled:
            used["event_streams"] = "$.event_streams.enabled"
        if self.dynamic_charging.enabled:
            used["dynamic_charging"] = "$.dynamic_charging.enabled"
        if self.battery_swap.enabled:
            used["battery_swap"] = "$.battery_swap.enabled"
        if self.web_payment.enabled:
            used["web_payment"] = "$.web_payment.enabled"
        return used

    @property
    def protocol_versions(self) -> tuple[ProtocolVersion, ...]:
        """The OCPP versions offered (:attr:`ocpp_versions`): their subprotocols, codecs and RPC frameworks."""
        return tuple(VERSIONS_BY_NAME[name] for name in self.ocpp_versions)

    @property
    def protocol_version(self) -> ProtocolVersion:
        """The preferred OCPP version (the first of :attr:`ocpp_versions`): its subprotocol,
        codec and RPC framework."""
        return VERSIONS_BY_NAME[self.ocpp_versions[0]]


def station_password(profile: StationProfile, station_id: str) -> str | None:
    """The Basic-auth password a station of ``profile`` uses, or ``None`` (no Basic auth)."""
    security = profile.security
    if security.profile not in (1, 2) or not security.password:
        return None
    return render_pattern(security.password, station_id)


_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\.\"([^\"]*)\"|\.`([^`]*)`")


def _path_of(message: str) -> str | None:
    match = re.search(r"at `(\$[^`]*)`", message)
    return match.group(1) if match else None


def find_line(text: str, path: str, key: str | None = None) -> int | None:
    """Best-effort line number (1-based) of the field at ``path`` (``$.evses[1].max_power``)
    in the TOML ``text``; ``key`` is an unknown field's name to look for under it."""
    parts: list[str | int] = []
    for m in _PATH_PART.finditer(path[1:]):
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
        else:
            parts.append(m.group(3) or m.group(4) or "")
    if key is not None:
        parts.append(key)
    lines = text.splitlines()
    start = 0
    table: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(part, str) and i + 1 < len(parts) and isinstance(parts[i + 1], int):
            # an array of tables: find its n-th [[header]]
            table = [*table, part]
            header = re.compile(r"^\s*\[\[\s*" + r"\s*\.\s*".join(re.escape(t) for t in table) + r"\s*\]\]")
            wanted = int(parts[i + 1])
            seen = -1
            found = None
            for n in range(start, len(lines)):
                if header.match(lines[n]):
                    seen += 1
                    if seen == wanted:
                        found = n
                        break
            if found is None:
                # maybe an inline array: look for "name =" and give its line
                return _key_line(lines, start, part)
            start = found + 1
            i += 2
            continue
        if isinstance(part, str) and i + 1 < len(parts):
            table = [*table, part]
            header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(re.escape(t) for t in table) + r"\s*\]")
            for n in range(start, len(lines)):
                if header.match(lines[n]):
                    start = n + 1
                    break
            else:
                return _key_line(lines, start, part)
            i += 1
            continue
        if isinstance(part, str):
            return _key_line(lines, start, part)
        i += 1
    return start if start > 0 else None


def _key_line(lines: list[str], start: int, key: str) -> int | None:
    pattern = re.compile(r"^\s*(?:\"" + re.escape(key) + r"\"|" + re.escape(key) + r")\s*=")
    for n in range(start, len(lines)):
        if pattern.match(lines[n]):
            return n + 1
    return None


def _non_finite(value: Any, path: str) -> tuple[str, float] | None:
    """The path and value of the first infinite or NaN number in decoded ``value``."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _describe(path: Path, text: str, message: str) -> str:
    field = _path_of(message)
    unknown = re.search(r"unknown field `([^`]*)`", message)
    line = None
    if field is not None:
        line = find_line(text, field, unknown.group(1) if unknown else None)
    elif unknown:
        line = find_line(text, "$", unknown.group(1))
    where = f"{path}:{line}" if line else str(path)
    if field is None:
        field = "$"
    detail = re.sub(r"\s*- at `\$[^`]*`$", "", message)
    return f"{where}: `{field}`: {detail}"


class ProfileText(msgspec.Struct, frozen=True):
    """A profile whose format is valid, with the file it came from (for locating later errors)."""

    path: Path
    text: str
    profile: StationProfile

    def field_error(self, field: str, detail: str) -> ProfileError:
        """The error for the field at ``field`` (``$.der.enabled``), at its line."""
        return ProfileError(_describe(self.path, self.text, f"{detail} - at `{field}`"))

    def variable_error(self, key: str, detail: str) -> ProfileError:
        """The error for a bad entry ``key`` of the profile's ``[variables]``, at its line."""
        line = _key_line(self.text.splitlines(), 0, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        return ProfileError(f'{where}: `$.variables."{key}"`: {detail}')


def read_profile(path: str | Path) -> ProfileText:
    """Read a station profile (TOML) and validate its format: fields, types, ranges.

    What the profile's OCPP version knows (the variables of its configuration model) is
    checked one layer up, by the station's dialect:
    :func:`fleet.actors.station.load_profile` does both and is the loader to use.

    Raises:
        ProfileError: the file cannot be read, is not TOML, or a field is wrong;
            the message reads ``<file>[:line]: `$.field.path`: what was expected``.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace")
    try:
        profile = msgspec.toml.decode(raw, type=StationProfile)
    except msgspec.ValidationError as exc:
        raise ProfileError(_describe(path, text, str(exc))) from None
    except msgspec.DecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    infinite = _non_finite(msgspec.to_builtins(profile), "$")
    if infinite is not None:  # TOML has inf and nan; no field of a profile takes them
        field, value = infinite
        raise ProfileError(_describe(path, text, f"Expected a finite number, got {value} - at `{field}`"))
    return ProfileText(path, text, profile)
