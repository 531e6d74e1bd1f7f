"""Codec benchmark: fleet's decode+validate and encode rates beside json + jsonschema.

For three frames (a BootNotification, a Heartbeat and a TransactionEvent with
meter values) it times, in the same run:

- fleet decode+validate: frame text -> ``Call`` -> typed, fully validated request Struct;
- fleet encode: request Struct -> frame text;
- baseline decode+validate: ``json.loads`` of the frame + ``jsonschema`` validation of
  the payload against the official OCPP 2.0.1 schema (validator built once, formats
  checked, as fleet checks them);
- baseline encode: ``json.dumps`` of the frame.

The schemas come from the ``ocpp`` package and validation from ``jsonschema`` (the
``bench`` extra: ``pip install 'fleet[bench]'``; the dev extras have them too). Without
them the baseline is skipped and :func:`baseline_problem` says why; fleet's own figures
need nothing more than fleet.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import time
from collections.abc import Callable
from typing import Any

import msgspec

from ..ocpp import V201, Call, decode_frame, encode_frame
from ..ocpp import v201 as m

__all__ = ["BASELINE_EXTRA", "baseline_problem", "run_codec_benchmark", "sample_requests"]

#: The extra that installs what the baseline needs.
BASELINE_EXTRA = "bench"


def baseline_problem() -> str | None:
    """Why the json + jsonschema baseline cannot run here (``None``: it can)."""
    missing = [name for name in ("jsonschema", "ocpp") if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (f"the json + jsonschema baseline needs {' and '.join(missing)}, not installed: "
            f"pip install 'fleet[{BASELINE_EXTRA}]'")


def sample_requests() -> dict[str, Any]:
    """The three requests the benchmark encodes and decodes."""
    now = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.UTC)
    sampled = [
        m.SampledValue(value=12345.6, measurand=m.Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, unit_of_measure=m.UnitOfMeasure(unit="Wh")),
        m.SampledValue(value=7200.0, measurand=m.Measurand.POWER_ACTIVE_IMPORT, unit_of_measure=m.UnitOfMeasure(unit="W")),
        m.SampledValue(value=31.3, measurand=m.Measurand.CURRENT_IMPORT, phase=m.Phase.L1),
        m.SampledValue(value=230.1, measurand=m.Measurand.VOLTAGE, phase=m.Phase.L1),
        m.SampledValue(value=54.0, measurand=m.Measurand.SOC, unit_of_measure=m.UnitOfMeasure(unit="Percent")),
    ]
    return {
        "BootNotification": m.BootNotificationRequest(
            charging_station=m.ChargingStation(
                model="Wallbox-22", vendor_name="fleet", serial_number="CS000001", firmware_version="1.4.2"
            ),
            reason=m.BootReason.POWER_UP,
        ),
        "Heartbeat": m.HeartbeatRequest(),
        "TransactionEvent": m.TransactionEventRequest(
            event_type=m.TransactionEvent.UPDATED,
            timestamp=now,
            trigger_reason=m.TriggerReason.METER_VALUE_PERIODIC,
            seq_no=42,
            transaction_info=m.Transaction(transaction_id="8a3f6c1e-0d1b-4d52-9f7e-2b6f0e3c9a11", charging_state=m.ChargingState.CHARGING),
            evse=m.EVSE(id=1, connector_id=1),
            meter_value=[m.MeterValue(timestamp=now, sampled_value=sampled)],
        ),
    }


def _rate(fn: Callable[[], Any], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (best of three slices)."""
    best = 0.0
    for _ in range(3):
        n = 0
        batch = 200
        start = time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for _ in range(batch):
                fn()
            n += batch
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, n / (now - start))
    return best


def _schema_validator(action: str) -> Any:
    import importlib.resources

    import jsonschema

    schema_text = importlib.resources.files("ocpp.v201").joinpath(f"schemas/{action}Request.json").read_text()
    schema = json.loads(schema_text)
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def run_codec_benchmark(seconds_per_case: float = 1.0, *, baseline: bool = True) -> list[dict[str, Any]]:
    """Measure every case; return one row per action. Without ``baseline`` (see
    :func:`baseline_problem`) its figures and the speedup are ``None``."""
    rows = []
    for action, request in sample_requests().items():
        payload = V201.encoder.encode(request)
        frame = encode_frame(Call("c0ffee00-0000-4000-8000-000000000001", action, msgspec.Raw(payload)))
        text = frame.decode()
        decoder = V201.request_decoder(action)
        encoder = V201.encoder

        def fleet_decode(text: str = text, decoder: Any = decoder) -> Any:
            call = decode_frame(text)
            assert isinstance(call, Call)
            return decoder.decode(call.payload)

        def fleet_encode(request: Any = request, action: str = action, encoder: Any = encoder) -> str:
            body = encoder.encode(request)
            return encode_frame(Call("c0ffee00-0000-4000-8000-000000000001", action, msgspec.Raw(body))).decode()

        assert fleet_decode() == request
        row: dict[str, Any] = {
            "action": action,
            "frame_bytes": len(frame),
            "fleet_decode_per_s": _rate(fleet_decode, seconds_per_case),
            "fleet_encode_per_s": _rate(fleet_encode, seconds_per_case),
            "jsonschema_decode_per_s": None,
            "json_encode_per_s": None,
            "decode_speedup": None,
        }
        rows.append(row)
        if not baseline:
            continue
        validator = _schema_validator(action)
        as_list = json.loads(text)
        validator.validate(as_list[3])

        def baseline_decode(text: str = text, validator: Any = validator) -> Any:
            obj = json.loads(text)
            validator.validate(obj[3])
            return obj

        def baseline_encode(obj: Any = as_list) -> str:
            return json.dumps(obj, separators=(",", ":"))

        row["jsonschema_decode_per_s"] = _rate(baseline_decode, seconds_per_case)
        row["json_encode_per_s"] = _rate(baseline_encode, seconds_per_case)
        row["decode_speedup"] = row["fleet_decode_per_s"] / row["jsonschema_decode_per_s"]
    return rows
