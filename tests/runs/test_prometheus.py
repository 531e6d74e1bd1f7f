"""The Prometheus exposition: rendering from metrics, and a real scrape over loopback."""

from __future__ import annotations

import functools

import trio

from fleet.metrics import Metrics
from fleet.run.prometheus import render_metrics, serve_prometheus
from fleet.run.supervisor import FleetStatus


def sample() -> tuple[FleetStatus, Metrics]:
    metrics = Metrics()
    for ms in (1, 2, 3, 40, 600):
        metrics.call_completed("Heartbeat", True, ms / 1000)
    metrics.count("reconnects", 2)
    metrics.handshake_failed(401)
    metrics.connect_failed("refused")
    metrics.connect_failed("refused")
    status = FleetStatus(phase="running", total=3, states={"available": 2, "charging": 1}, completed=5,
                         counters={"reconnects": 2}, rss={"stations/0": 1000})
    return status, metrics


def test_histogram_buckets_are_cumulative_and_complete() -> None:
    status, metrics = sample()
    text = render_metrics(status, metrics.export())
    assert 'fleet_stations{state="charging"} 1' in text
    assert 'fleet_call_duration_seconds_bucket{action="Heartbeat",direction="out",le="0.005"} 3' in text
    assert 'fleet_call_duration_seconds_bucket{action="Heartbeat",direction="out",le="0.05"} 4' in text
    assert 'fleet_call_duration_seconds_bucket{action="Heartbeat",direction="out",le="+Inf"} 5' in text
    assert 'fleet_handshake_failures_total{status="401"} 1' in text
    assert 'fleet_connect_failures_total{cause="refused"} 2' in text
    assert 'fleet_events_total{name="reconnects"} 2' in text


async def test_scrape_over_loopback() -> None:
    status, metrics = sample()
    snapshot = metrics.export()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(functools.partial(serve_prometheus, lambda: (status, snapshot), "127.0.0.1", 0))
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        response = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                response += chunk
        assert response.startswith(b"HTTP/1.1 200 OK")
        assert b"fleet_calls_total 5" in response
        nursery.cancel_scope.cancel()
