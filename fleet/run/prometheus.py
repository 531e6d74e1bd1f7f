"""Prometheus exposition of a running fleet (``fleet run --prometheus HOST:PORT``).

A tiny HTTP server on trio answers ``GET /metrics`` with the text exposition
format (version 0.0.4). It renders on demand from a provider that returns the
supervisor's current :class:`~fleet.run.supervisor.FleetStatus` and, when
available, the merged :class:`~fleet.metrics.MetricsSnapshot`; nothing is computed
between scrapes.

Metrics (all prefixed ``fleet_``):

- ``fleet_stations{state}`` gauge: stations by state; ``fleet_stations_total`` gauge.
- ``fleet_calls_total`` / ``fleet_call_failures_total`` counters (live totals).
- ``fleet_call_duration_seconds{action,direction}`` histogram: round trip of the
  fleet's calls, with cumulative buckets read off the HDR histograms.
- ``fleet_call_errors_total{action,code}`` counter; ``fleet_events_total{name}``
  counter (connects, disconnects, reconnects, timeouts, violations, ...).
- ``fleet_handshake_failures_total{status}`` counter; ``fleet_process_resident_memory_bytes{process}`` gauge.
- per OCPP version (a ``version`` label on families of their own, so the per-action series
  are not multiplied by the versions): ``fleet_version_stations{version}`` and
  ``fleet_version_stations_online{version}`` gauges (stations, and those the CSMS accepted at
  least once), ``fleet_version_calls_total{version}`` and
  ``fleet_version_call_failures_total{version}`` counters, and
  ``fleet_version_call_duration_seconds{version}`` histogram (their round trips).
- fleet's own load per role (``stations``, ``csms``, ``supervisor``; the busiest process of
  the role over its last second, see :mod:`fleet.run.execution`): ``fleet_self_cpu_ratio{role}``
  gauge (share of one core), ``fleet_self_loop_lag_seconds{role,quantile}`` gauge (``0.99``
  and ``1``, the max), ``fleet_self_saturated{role}`` gauge (1 while the role cannot keep up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from ..metrics import MetricsSnapshot, decode_histogram

__all__ = ["BUCKETS", "render_metrics", "serve_prometheus"]

#: Histogram bucket bounds, seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Provider = Callable[[], tuple[Any, MetricsSnapshot | None]]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def render_metrics(status: Any, metrics: MetricsSnapshot | None) -> str:
    """The exposition text for one scrape."""
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")

    family("fleet_stations", "gauge", "Stations by state.")
    for state, n in sorted(status.states.items()):
        out.append(f"fleet_stations{_labels(state=state)} {n}")
    family("fleet_stations_total", "gauge", "Stations in the run.")
    out.append(f"fleet_stations_total {status.total}")
    family("fleet_calls_total", "counter", "Calls answered so far.")
    out.append(f"fleet_calls_total {status.completed}")
    family("fleet_call_failures_total", "counter", "Calls failed so far (CALLERROR, invalid answer, timeout, lost).")
    out.append(f"fleet_call_failures_total {status.failed}")
    family("fleet_events_total", "counter", "Connection and protocol events.")
    for name, n in sorted(status.counters.items()):
        out.append(f"fleet_events_total{_labels(name=name)} {n}")
    family("fleet_process_resident_memory_bytes", "gauge", "Resident memory per process.")
    for process, rss in sorted(status.rss.items()):
        out.append(f"fleet_process_resident_memory_bytes{_labels(process=process)} {rss}")
    _execution_lines(getattr(status, "execution", {}), family, out)
    if metrics is not None:
        family("fleet_call_duration_seconds", "histogram", "Round trip of OCPP calls.")
        for key in sorted(metrics.histograms):
            direction, _, action = key.partition(":")
            histogram = metrics.histogram(key)
            total = histogram.get_total_count()
            for bound in BUCKETS:
                count = _count_at_or_below(histogram, bound)
                out.append(f"fleet_call_duration_seconds_bucket{_labels(action=action, direction=direction, le=str(bound))} {count}")
            out.append(f"fleet_call_duration_seconds_bucket{_labels(action=action, direction=direction, le='+Inf')} {total}")
            mean_s = histogram.get_mean_value() / 1e6
            out.append(f"fleet_call_duration_seconds_sum{_labels(action=action, direction=direction)} {mean_s * total:.6f}")
            out.append(f"fleet_call_duration_seconds_count{_labels(action=action, direction=direction)} {total}")
        family("fleet_call_errors_total", "counter", "Failed calls by CALLERROR code (Timeout for timeouts).")
        for key, codes in sorted(metrics.errors.items()):
            _, _, action = key.partition(":")
            for code, n in sorted(codes.items()):
                out.append(f"fleet_call_errors_total{_labels(action=action, code=code)} {n}")
        family("fleet_handshake_failures_total", "counter", "Failed websocket handshakes by HTTP status.")
        for status_code, n in sorted(metrics.handshake_failures.items()):
            out.append(f"fleet_handshake_failures_total{_labels(status=status_code)} {n}")
        family("fleet_connect_failures_total", "counter",
               "Failed connection attempts by cause (refused, timeout, tls, http_401, ...).")
        for cause, n in sorted(metrics.connect_failures.items()):
            out.append(f"fleet_connect_failures_total{_labels(cause=cause)} {n}")
        _version_lines(metrics, family, out)
    return "\n".join(out) + "\n"


def _execution_lines(roles: dict[str, dict[str, float]], family: Callable[[str, str, str], None],
                     out: list[str]) -> None:
    """Fleet's own load per role (see :mod:`fleet.run.execution`)."""
    if not roles:
        return
    from .execution import saturated

    family("fleet_self_cpu_ratio", "gauge", "CPU use of fleet's busiest process of the role (share of one core).")
    for role, figures in sorted(roles.items()):
        out.append(f"fleet_self_cpu_ratio{_labels(role=role)} {figures.get('cpu', 0.0) / 100:.4f}")
    family("fleet_self_loop_lag_seconds", "gauge", "Event-loop lag of fleet's busiest process of the role.")
    for role, figures in sorted(roles.items()):
        out.append(f"fleet_self_loop_lag_seconds{_labels(role=role, quantile='0.99')} {figures.get('lag_p99_ms', 0.0) / 1000:.6f}")
        out.append(f"fleet_self_loop_lag_seconds{_labels(role=role, quantile='1')} {figures.get('lag_max_ms', 0.0) / 1000:.6f}")
    family("fleet_self_saturated", "gauge", "1 while fleet's processes of the role cannot keep up (its figures include fleet's delay).")
    for role, figures in sorted(roles.items()):
        hot = saturated({"loop_lag_p99_ms": figures.get("lag_p99_ms", 0.0), "cpu_peak": figures.get("cpu", 0.0)})
        out.append(f"fleet_self_saturated{_labels(role=role)} {int(hot)}")


def _version_lines(metrics: MetricsSnapshot, family: Callable[[str, str, str], None], out: list[str]) -> None:
    """Stations and their calls per OCPP version."""
    versions = sorted(metrics.versions.items())
    if not versions:
        return
    family("fleet_version_stations", "gauge", "Stations by the OCPP version they speak.")
    for version, figures in versions:
        out.append(f"fleet_version_stations{_labels(version=version)} {figures.stations}")
    family("fleet_version_stations_online", "gauge", "Stations by OCPP version that the CSMS accepted at least once.")
    for version, figures in versions:
        out.append(f"fleet_version_stations_online{_labels(version=version)} {figures.online}")
    histograms = {version: decode_histogram(figures.histogram) for version, figures in versions}
    family("fleet_version_calls_total", "counter", "Calls answered, by the OCPP version of the stations that made them.")
    for version, _ in versions:
        out.append(f"fleet_version_calls_total{_labels(version=version)} {histograms[version].get_total_count()}")
    family("fleet_version_call_failures_total", "counter",
           "Calls failed (CALLERROR, invalid answer, timeout), by the OCPP version of the stations that made them.")
    for version, figures in versions:
        out.append(f"fleet_version_call_failures_total{_labels(version=version)} {sum(figures.errors.values())}")
    family("fleet_version_call_duration_seconds", "histogram", "Round trip of the calls of the stations of an OCPP version.")
    for version, _ in versions:
        histogram = histograms[version]
        total = histogram.get_total_count()
        for bound in BUCKETS:
            out.append(f"fleet_version_call_duration_seconds_bucket{_labels(version=version, le=str(bound))} "
                       f"{_count_at_or_below(histogram, bound)}")
        out.append(f"fleet_version_call_duration_seconds_bucket{_labels(version=version, le='+Inf')} {total}")
        out.append(f"fleet_version_call_duration_seconds_sum{_labels(version=version)} "
                   f"{histogram.get_mean_value() / 1e6 * total:.6f}")
        out.append(f"fleet_version_call_duration_seconds_count{_labels(version=version)} {total}")


def _count_at_or_below(histogram: Any, bound_seconds: float) -> int:
    limit = int(bound_seconds * 1_000_000)
    count = 0
    for item in histogram.get_recorded_iterator():
        if item.value_iterated_to > limit:
            break
        count += item.count_added_in_this_iter_step
    return count


async def serve_prometheus(
    provider: Provider, host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve ``GET /metrics`` until cancelled; ``task_status.started(port)`` once listening."""

    async def handle(stream: trio.SocketStream) -> None:
        try:
            with trio.move_on_after(5):
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 8192:
                    chunk = await stream.receive_some(4096)
                    if not chunk:
                        return
                    request += chunk
                line = request.split(b"\r\n", 1)[0].decode("latin-1")
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?")[0] in ("/metrics", "/"):
                    body = render_metrics(*provider()).encode()
                    head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                else:
                    body = b"not found\n"
                    head = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                await stream.send_all(head.encode() + body)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            await stream.aclose()

    listeners = await trio.open_tcp_listeners(port, host=host)
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handle, listeners)
        task_status.started(listeners[0].socket.getsockname()[1])
