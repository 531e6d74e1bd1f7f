"""OCPP 2.1 periodic event streams on one station (use cases N11-N15):
:class:`EventStreams`, made by the 2.1 dialect when the profile switches them on
(``[event_streams] enabled``).

The station opens the streams (OpenPeriodicEventStream is a station-initiated CALL):

* for each preconfigured monitor of the profile (``[[event_streams.streams]]``), once
  the CSMS has accepted its boot (N11 scenario 2, N11.FR.03): a periodic monitor of
  its own (an id taken from the device model's monitor ids) on the variable;
* for each monitor the CSMS sets with SetVariableMonitoring and a
  ``periodicEventStream`` (N11 scenario 1, N11.FR.01-02).

Once the CSMS accepts a stream, the station samples the monitored variable (its actual
value in the device model) every period of the monitor and buffers the samples; it
flushes them as one NotifyPeriodicEventStream once ``interval`` seconds of samples have
been taken since the last flush (time counted in samples: a flush at the time of a
sample includes it) and as soon as ``values`` samples are buffered, at most ``values``
at a time, the rest counted in ``pending`` (N15.FR.04-08). NotifyPeriodicEventStream goes out as an OCPP-J
SEND (N15.FR.01): at once, never answered, never waited for. ``basetime`` is the time
of the first sample sent, each sample's ``t`` its offset in seconds (the monitor's
period times its place; N15.FR.09). A stream the CSMS rejects is dropped (N11.FR.07).
Clearing the monitor closes its stream: what is buffered is sent, then
ClosePeriodicEventStream (N13.FR.03, FR.05). Samples taken while offline wait in the
buffer (the oldest dropped beyond :data:`BUFFER_LIMIT`). A reboot forgets every stream;
the next accepted boot opens the preconfigured ones again. A monitor is sampled at most
once a second (:data:`MIN_PERIOD`), whatever period the CSMS asks for.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Final

from msgspec import UNSET

from ....ocpp.v21 import (
    ClosePeriodicEventStreamRequest,
    ConstantStreamData,
    GenericStatus,
    NotifyPeriodicEventStream,
    OpenPeriodicEventStreamRequest,
    PeriodicEventStreamParams,
    StreamDataElement,
)
from ....profiles import EventStreams as EventStreamsSettings
from ..v201.device_model import Key, key

if TYPE_CHECKING:
    from .dialect import V21Dialect

__all__ = ["BUFFER_LIMIT", "MIN_PERIOD", "EventStreams", "Stream"]

#: The most samples a stream buffers (while offline); beyond it the oldest are dropped.
BUFFER_LIMIT: Final = 1000
#: The shortest period a monitor is sampled at (seconds): a shorter one asked for is this.
MIN_PERIOD: Final = 1.0


class Stream:
    """One periodic event stream: its monitor, parameters and buffered samples."""

    __slots__ = ("buffer", "flushed", "id", "interval", "key", "monitor_id", "open", "period", "samples", "values")

    def __init__(self, stream_id: int, monitor_id: int, variable_key: Key, period: float, interval: int,
                 values: int) -> None:
        self.id = stream_id
        self.monitor_id = monitor_id
        self.key = variable_key
        #: seconds between two samples (the monitor's period)
        self.period = period
        #: the stream's parameters: flush every ``interval`` seconds, and at ``values`` samples (0: not)
        self.interval = interval
        self.values = values
        #: the CSMS accepted it (samples are taken only then)
        self.open = False
        #: samples taken so far (a sample's number times the period is its time)
        self.samples = 0
        #: the number of samples taken at the last flush
        self.flushed = 0
        #: (sample number, station time, value) not sent yet
        self.buffer: list[tuple[int, datetime.datetime, str]] = []

    def constant_data(self) -> ConstantStreamData:
        return ConstantStreamData(id=self.id, params=self.params(), variable_monitoring_id=self.monitor_id)

    def params(self) -> PeriodicEventStreamParams:
        fields: dict[str, Any] = {}
        if self.interval:
            fields["interval"] = self.interval
        if self.values:
            fields["values"] = self.values
        return PeriodicEventStreamParams(**fields)


class EventStreams:
    """The periodic event streams of one station (see the module's description).

    Args:
        dialect: the station's 2.1 dialect.
        settings: the profile's ``[event_streams]``.
    """

    def __init__(self, dialect: V21Dialect, settings: EventStreamsSettings) -> None:
        self.dialect = dialect
        self.settings = settings
        #: stream id -> the stream (open, or waiting for the CSMS's answer)
        self.streams: dict[int, Stream] = {}
        #: NotifyPeriodicEventStream messages sent
        self.sent = 0
        self._next_id = 1
        self._preconfigured_open = False

    # ------------------------------------------------------------------ opening

    def boot_accepted(self) -> None:
        """Open a stream for each preconfigured monitor of the profile (once per boot of the station)."""
        if self._preconfigured_open:
            return
        self._preconfigured_open = True
        for spec in self.settings.streams:
            monitor_id = self.dialect.next_monitor_id
            self.dialect.next_monitor_id += 1
            self.open(monitor_id, key(spec.component, spec.variable, evse=spec.evse), spec.period, spec.interval,
                      spec.values)

    def open(self, monitor_id: int, variable_key: Key, period: float, interval: int, values: int) -> Stream:
        """Open a stream for the monitor ``monitor_id`` of ``variable_key`` sampled every
        ``period`` seconds (OpenPeriodicEventStream; it runs once the CSMS accepts it)."""
        stream = Stream(self._next_id, monitor_id, variable_key, max(period, MIN_PERIOD), interval, values)
        self._next_id += 1
        self.streams[stream.id] = stream

        def answered(result: Any) -> None:
            if self.streams.get(stream.id) is not stream:
                return
            if isinstance(result, Exception) or result.status != GenericStatus.ACCEPTED:
                del self.streams[stream.id]  # (N11.FR.07: not over a stream)
                return
            stream.open = True
            self._arm_sample(stream)

        self.dialect.station.send(OpenPeriodicEventStreamRequest(constant_stream_data=stream.constant_data()),
                                  followup=True, on_result=answered)
        return stream

    # ------------------------------------------------------------------ running

    def _arm_sample(self, stream: Stream) -> None:
        self.dialect.station.protocol_timer(("stream-sample", stream.id), stream.period, lambda: self._sample(stream))

    def _sample(self, stream: Stream) -> None:
        if self.streams.get(stream.id) is not stream:
            return
        model = self.dialect.model
        value = model.value_of(stream.key) if stream.key in model.catalog.defs else ""
        stream.buffer.append((stream.samples, self.dialect.station.clock(), value[:2500]))
        stream.samples += 1
        if len(stream.buffer) > BUFFER_LIMIT:
            del stream.buffer[: len(stream.buffer) - BUFFER_LIMIT]
        due = stream.interval and (stream.samples - stream.flushed) * stream.period >= stream.interval
        if due or (stream.values and len(stream.buffer) >= stream.values):
            stream.flushed = stream.samples
            self.flush(stream)
        self._arm_sample(stream)

    def flush(self, stream: Stream) -> bool:
        """Send what ``stream`` has buffered (at most ``values`` samples; the rest pending) as a
        SEND; whether it went out (not when offline or nothing is buffered)."""
        buffer = stream.buffer
        if not buffer:
            return False
        chunk = buffer[: stream.values] if stream.values else buffer
        first_number, basetime, _ = chunk[0]
        message = NotifyPeriodicEventStream(
            id=stream.id, pending=len(buffer) - len(chunk), basetime=basetime,
            data=[StreamDataElement(t=round((number - first_number) * stream.period, 3), v=value)
                  for number, _, value in chunk],
        )
        if not self.dialect.station.send_unconfirmed(message):
            return False
        del buffer[: len(chunk)]
        self.sent += 1
        return True

    # ------------------------------------------------------------------ the CSMS's requests

    def adjust(self, stream_id: int, params: PeriodicEventStreamParams) -> bool:
        """AdjustPeriodicEventStream: new ``interval`` and/or ``values``; whether the stream exists
        and would still send (one of them above 0)."""
        stream = self.streams.get(stream_id)
        if stream is None:
            return False
        interval = params.interval if params.interval is not UNSET else stream.interval
        values = params.values if params.values is not UNSET else stream.values
        if not (interval or values):
            return False  # (it would never send: not a rate it can comply with, N14.FR.02)
        stream.interval, stream.values = interval, values
        return True

    def constant_data(self) -> list[ConstantStreamData]:
        """GetPeriodicEventStream: every open stream's constant data."""
        return [stream.constant_data() for stream in self.streams.values() if stream.open]

    def monitors_cleared(self, monitor_ids: set[int]) -> None:
        """The monitors ``monitor_ids`` were cleared: close their streams (N13.FR.05)."""
        for stream in [s for s in self.streams.values() if s.monitor_id in monitor_ids]:
            self.close(stream)

    def close(self, stream: Stream) -> None:
        """Send what is buffered, then ClosePeriodicEventStream (N13.FR.01, FR.03)."""
        if stream.open:
            while stream.buffer and self.flush(stream):
                pass
            self.dialect.station.send(ClosePeriodicEventStreamRequest(id=stream.id), followup=True)
        self._forget(stream)

    def rebooted(self) -> None:
        """A reboot: every stream is gone (the next accepted boot opens the preconfigured ones)."""
        for stream in list(self.streams.values()):
            self._forget(stream)
        self._preconfigured_open = False

    def _forget(self, stream: Stream) -> None:
        self.streams.pop(stream.id, None)
        self.dialect.station.cancel_timer(("stream-sample", stream.id))
