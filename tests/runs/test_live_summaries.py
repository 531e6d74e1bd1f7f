"""The live views' once-a-second summaries skip the mean (hdrh walks every bucket in Python for it: it was
most of the supervisor's CPU with a dashboard attached); the report keeps it."""

from __future__ import annotations

from fleet.metrics import Metrics


def _metrics() -> Metrics:
    metrics = Metrics()
    for ms in (1.0, 2.0, 3.0, 10.0):
        metrics.call_completed("Heartbeat", True, ms / 1000.0)
    return metrics


def test_the_report_summary_has_the_mean_and_the_live_one_skips_it_with_the_same_percentiles() -> None:
    snapshot = _metrics().export()
    (full,) = snapshot.action_stats()
    (live,) = snapshot.action_stats(mean=False)
    assert 3.9 < full.mean_ms < 4.1  # (1 + 2 + 3 + 10) / 4
    assert live.mean_ms == 0.0
    assert (live.count, live.p50_ms, live.p99_ms, live.max_ms) == (full.count, full.p50_ms, full.p99_ms, full.max_ms)
