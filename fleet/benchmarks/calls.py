"""The requests of the closed loop (:mod:`.load`) in each OCPP version: a station's boot, and
a factory of its next request for the action it loops on (realistic payloads, the same meter
readings in every version).

2.0.1 and 2.1 share the builders: their types have the same names and, for these actions,
the same fields (each version's module passed in). 1.6 builds its own (its meter values are
strings, a connector instead of an EVSE, no transaction events).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import ModuleType
from typing import Any, Final

from ..ocpp import v16, v21, v201

__all__ = ["ACTIONS", "CALLS", "BenchCalls", "MeterSim", "now_utc", "transaction_id"]

ID_TOKEN = "04A1B2C3D4E5F6"
TRANSACTION_PREFIX = "c0ffee00-0000-4000-8000-"

#: The calls a station can loop on, by OCPP version (station -> CSMS, realistic payloads).
ACTIONS: Final[dict[str, tuple[str, ...]]] = {
    "2.0.1": ("Heartbeat", "TransactionEvent", "StatusNotification", "Authorize", "MeterValues"),
    "2.1": ("Heartbeat", "MeterValues"),
    "1.6": ("Heartbeat", "MeterValues"),
}


def transaction_id(index: int) -> str:
    return f"{TRANSACTION_PREFIX}{index:012d}"


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class MeterSim:
    """A charging session's meter: energy register, power, current, voltage, state of charge.

    Deterministic per station; :meth:`advance` moves it by one periodic sample.
    """

    __slots__ = ("current_a", "energy_wh", "power_w", "soc", "step", "voltage_v")

    def __init__(self, seed: int) -> None:
        self.step = 0
        self.energy_wh = 1000.0 + (seed % 997) * 10.0
        self.power_w = 7200.0
        self.current_a = 31.3
        self.voltage_v = 230.0
        self.soc = 20.0 + seed % 50

    def advance(self) -> None:
        self.step = step = self.step + 1
        self.power_w = 7000.0 + (step % 21) * 20.0
        self.voltage_v = round(228.0 + (step % 9) * 0.5, 1)
        self.current_a = round(self.power_w / self.voltage_v, 1)
        self.energy_wh = round(self.energy_wh + self.power_w / 3600.0, 1)
        soc = self.soc + 0.1
        self.soc = round(soc if soc < 100.0 else 20.0, 1)


def _boot_2x(m: ModuleType) -> Callable[[str], Any]:
    def boot(sid: str) -> Any:
        return m.BootNotificationRequest(
            charging_station=m.ChargingStation(model="Bench-22", vendor_name="fleet-bench", serial_number=sid,
                                               firmware_version="1.0.0"),
            reason=m.BootReason.POWER_UP,
        )
    return boot


def _requests_2x(m: ModuleType) -> Callable[[str, int], Callable[[], Any]]:
    def requests(action: str, index: int) -> Callable[[], Any]:
        """A factory of the station's next request for ``action`` (realistic payloads)."""
        if action == "Heartbeat":
            heartbeat = m.HeartbeatRequest()
            return lambda: heartbeat
        meter = MeterSim(index)
        wh = m.UnitOfMeasure(unit="Wh")
        w = m.UnitOfMeasure(unit="W")
        a = m.UnitOfMeasure(unit="A")
        v = m.UnitOfMeasure(unit="V")
        percent = m.UnitOfMeasure(unit="Percent")
        periodic = m.ReadingContext.SAMPLE_PERIODIC

        def meter_values(context: Any = periodic) -> list[Any]:
            meter.advance()
            return [m.MeterValue(timestamp=now_utc(), sampled_value=[
                m.SampledValue(value=meter.energy_wh, context=context,
                               measurand=m.Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, unit_of_measure=wh),
                m.SampledValue(value=meter.power_w, context=context, measurand=m.Measurand.POWER_ACTIVE_IMPORT,
                               unit_of_measure=w),
                m.SampledValue(value=meter.current_a, context=context, measurand=m.Measurand.CURRENT_IMPORT,
                               phase=m.Phase.L1, unit_of_measure=a),
                m.SampledValue(value=meter.voltage_v, context=context, measurand=m.Measurand.VOLTAGE,
                               phase=m.Phase.L1_N, unit_of_measure=v),
                m.SampledValue(value=meter.soc, context=context, measurand=m.Measurand.SOC,
                               location=m.Location.EV, unit_of_measure=percent),
            ])]

        if action == "MeterValues":
            return lambda: m.MeterValuesRequest(evse_id=1, meter_value=meter_values())
        if action == "StatusNotification":
            statuses = (m.ConnectorStatus.OCCUPIED, m.ConnectorStatus.AVAILABLE)
            flip = [0]

            def status_notification() -> Any:
                flip[0] ^= 1
                return m.StatusNotificationRequest(timestamp=now_utc(), connector_status=statuses[flip[0]],
                                                   evse_id=1, connector_id=1)

            return status_notification
        id_token = m.IdToken(id_token=ID_TOKEN, type=m.IdTokenEnum.ISO14443)
        if action == "Authorize":
            return lambda: m.AuthorizeRequest(id_token=id_token)
        if action != "TransactionEvent":
            raise ValueError(f"no {action} loop")
        seq = 0
        charging = m.Transaction(transaction_id=transaction_id(index), charging_state=m.ChargingState.CHARGING)

        def transaction_event() -> Any:
            nonlocal seq
            seq += 1
            if seq == 1:
                return m.TransactionEventRequest(
                    event_type=m.TransactionEvent.STARTED, timestamp=now_utc(),
                    trigger_reason=m.TriggerReason.AUTHORIZED, seq_no=0,
                    transaction_info=charging, evse=m.EVSE(id=1, connector_id=1), id_token=id_token,
                    meter_value=meter_values(m.ReadingContext.TRANSACTION_BEGIN),
                )
            return m.TransactionEventRequest(
                event_type=m.TransactionEvent.UPDATED, timestamp=now_utc(),
                trigger_reason=m.TriggerReason.METER_VALUE_PERIODIC, seq_no=seq - 1,
                transaction_info=charging, meter_value=meter_values(),
            )

        return transaction_event
    return requests


def _boot_16(sid: str) -> v16.BootNotificationRequest:
    return v16.BootNotificationRequest(charge_point_vendor="fleet-bench", charge_point_model="Bench-22",
                                       charge_point_serial_number=sid, firmware_version="1.0.0")


def _requests_16(action: str, index: int) -> Callable[[], Any]:
    """A factory of a 1.6 station's next request for ``action`` (the 2.x meter readings, as 1.6 strings)."""
    if action == "Heartbeat":
        heartbeat = v16.HeartbeatRequest()
        return lambda: heartbeat
    if action != "MeterValues":
        raise ValueError(f"no {action} loop in OCPP 1.6")
    meter = MeterSim(index)
    m = v16
    periodic = m.ReadingContext.SAMPLE_PERIODIC

    def meter_values() -> m.MeterValuesRequest:
        meter.advance()
        return m.MeterValuesRequest(connector_id=1, meter_value=[m.MeterValue(timestamp=now_utc(), sampled_value=[
            m.SampledValue(value=str(meter.energy_wh), context=periodic, measurand=m.Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                           unit=m.UnitOfMeasure.WH),
            m.SampledValue(value=str(meter.power_w), context=periodic, measurand=m.Measurand.POWER_ACTIVE_IMPORT,
                           unit=m.UnitOfMeasure.W),
            m.SampledValue(value=str(meter.current_a), context=periodic, measurand=m.Measurand.CURRENT_IMPORT,
                           phase=m.Phase.L1, unit=m.UnitOfMeasure.A),
            m.SampledValue(value=str(meter.voltage_v), context=periodic, measurand=m.Measurand.VOLTAGE,
                           phase=m.Phase.L1_N, unit=m.UnitOfMeasure.V),
            m.SampledValue(value=str(meter.soc), context=periodic, measurand=m.Measurand.SOC,
                           location=m.Location.EV, unit=m.UnitOfMeasure.PERCENT),
        ])])

    return meter_values


class BenchCalls:
    """One version's requests: ``boot(station_id)``, ``requests(action, index)`` (a factory of
    the next request), and ``accepted``, the boot status to expect."""

    __slots__ = ("accepted", "boot", "requests")

    def __init__(self, boot: Callable[[str], Any], requests: Callable[[str, int], Callable[[], Any]],
                 accepted: Any) -> None:
        self.boot = boot
        self.requests = requests
        self.accepted = accepted


#: OCPP version -> its requests.
CALLS: Final[dict[str, BenchCalls]] = {
    "2.0.1": BenchCalls(_boot_2x(v201), _requests_2x(v201), v201.RegistrationStatus.ACCEPTED),
    "2.1": BenchCalls(_boot_2x(v21), _requests_2x(v21), v21.RegistrationStatus.ACCEPTED),
    "1.6": BenchCalls(_boot_16, _requests_16, v16.RegistrationStatus.ACCEPTED),
}
