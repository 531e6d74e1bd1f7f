"""The 2.1 station's answers about periodic event streams (use cases N11-N14):
AdjustPeriodicEventStream, GetPeriodicEventStream, and SetVariableMonitoring /
ClearVariableMonitoring as 2.0.1 answers them plus what they do to streams (a monitor set
with a ``periodicEventStream`` gets a stream; clearing a monitor closes its stream), on
the station's :class:`~.event_streams.EventStreams`.

Each handler is ``handler(dialect, request) -> response``. The stream requests are
answered only where the profile switched event streams on (:func:`event_streams_on`;
elsewhere the fixed answers of :data:`.handlers.NOT_SIMULATED` stand); the monitoring
requests are 2.0.1's answers, which touch streams only where they are on.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from msgspec import UNSET

from ....ocpp.v21 import (
    AdjustPeriodicEventStreamRequest,
    AdjustPeriodicEventStreamResponse,
    ClearVariableMonitoringRequest,
    ClearVariableMonitoringResponse,
    GenericStatus,
    GetPeriodicEventStreamRequest,
    GetPeriodicEventStreamResponse,
    Monitor,
    SetVariableMonitoringRequest,
    SetVariableMonitoringResponse,
    StatusInfo,
)
from ..v201.handlers import HANDLERS as V201_HANDLERS

if TYPE_CHECKING:
    from .dialect import V21Dialect
    from .event_streams import EventStreams

__all__ = ["EVENT_STREAM_HANDLERS", "MONITORING_HANDLERS", "event_streams_on"]

_PERIODIC: Final = (Monitor.PERIODIC, Monitor.PERIODIC_CLOCK_ALIGNED)
#: A monitor set with a stream but not periodic is sampled at the stream's interval, or every minute.
_DEFAULT_PERIOD: Final = 60


def event_streams_on(dialect: V21Dialect) -> bool:
    """Whether the station's profile switched periodic event streams on."""
    return dialect.event_streams is not None


def _streams(dialect: V21Dialect) -> EventStreams:
    streams = dialect.event_streams
    assert streams is not None
    return streams


def adjust_periodic_event_stream(
    dialect: V21Dialect, request: AdjustPeriodicEventStreamRequest
) -> AdjustPeriodicEventStreamResponse:
    """N14: the stream's new interval and/or values; Rejected for a stream it does not have, or
    parameters that would never send."""
    if _streams(dialect).adjust(request.id, request.params):
        return AdjustPeriodicEventStreamResponse(status=GenericStatus.ACCEPTED)
    return AdjustPeriodicEventStreamResponse(status=GenericStatus.REJECTED,
                                             status_info=StatusInfo(reason_code="UnknownStream"))


def get_periodic_event_stream(
    dialect: V21Dialect, request: GetPeriodicEventStreamRequest
) -> GetPeriodicEventStreamResponse:
    """N12: the constant data of every open stream."""
    data = _streams(dialect).constant_data()
    return GetPeriodicEventStreamResponse(constant_stream_data=data) if data else GetPeriodicEventStreamResponse()


_set_monitoring = V201_HANDLERS["SetVariableMonitoring"]
_clear_monitoring = V201_HANDLERS["ClearVariableMonitoring"]


def set_variable_monitoring(dialect: V21Dialect, request: SetVariableMonitoringRequest) -> SetVariableMonitoringResponse:
    """2.0.1's answer; with event streams on, each monitor accepted with a ``periodicEventStream``
    gets a stream (N11.FR.01-02)."""
    response: SetVariableMonitoringResponse = _set_monitoring(dialect, request)
    streams = dialect.event_streams
    if streams is None:
        return response
    for data, result in zip(request.set_monitoring_data, response.set_monitoring_result, strict=True):
        params = data.periodic_event_stream
        if params is UNSET or result.status != "Accepted" or result.id is UNSET:
            continue
        monitor = dialect.monitors.get(result.id)
        if monitor is None:
            continue
        interval = params.interval if params.interval is not UNSET else 0
        values = params.values if params.values is not UNSET else 0
        if not (interval or values):
            interval = _DEFAULT_PERIOD  # (N11.FR.09 asks the CSMS for one of them)
        period = data.value if data.type in _PERIODIC else (interval or _DEFAULT_PERIOD)
        streams.monitors_cleared({result.id})  # (a monitor set again: its old stream goes)
        streams.open(result.id, monitor[0], period, interval, values)
    return response


def clear_variable_monitoring(
    dialect: V21Dialect, request: ClearVariableMonitoringRequest
) -> ClearVariableMonitoringResponse:
    """2.0.1's answer; with event streams on, the stream of each monitor cleared is closed (N13.FR.05)."""
    response: ClearVariableMonitoringResponse = _clear_monitoring(dialect, request)
    streams = dialect.event_streams
    cleared = {result.id for result in response.clear_monitoring_result if result.status == "Accepted"}
    if streams is not None and cleared:
        streams.monitors_cleared(cleared)
    return response


#: The event-stream actions 2.1 adds, answered where event streams are on.
EVENT_STREAM_HANDLERS: Final[Mapping[str, Any]] = MappingProxyType({
    "AdjustPeriodicEventStream": adjust_periodic_event_stream,
    "GetPeriodicEventStream": get_periodic_event_stream,
})

#: The monitoring actions of 2.0.1 as a 2.1 station answers them (2.0.1's answers, plus
#: what they do to its event streams when they are on).
MONITORING_HANDLERS: Final[Mapping[str, Any]] = MappingProxyType({
    "ClearVariableMonitoring": clear_variable_monitoring,
    "SetVariableMonitoring": set_variable_monitoring,
})
