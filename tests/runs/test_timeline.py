"""The run's timeline: the latency sketch's error bound and exact merge, interval
rotation on the wall clock, merging across workers and shards, and its place in the report."""

from __future__ import annotations

import random

import pytest

from fleet.metrics import HIGHEST_US, MetricsSnapshot
from fleet.run.report import Report, merge_reports, parse_report, report_json
from fleet.run.timeline import (
    SKETCH_ERROR,
    SLOTS,
    RoleLoad,
    Timeline,
    TimelinePoint,
    TimelineRecorder,
    add_sketches,
    decode_sketch,
    encode_sketch,
    latency_slot,
    merge_timelines,
    sketch_count,
    sketch_percentiles,
    slot_value,
)


def test_slots_are_ordered_and_hold_their_values_within_the_error() -> None:
    previous = -1
    for micros in [*range(1, 5000), *range(5000, 2_000_000, 997), HIGHEST_US]:
        slot = latency_slot(micros)
        assert previous <= slot < SLOTS
        previous = slot
        assert abs(slot_value(slot) - micros) <= SKETCH_ERROR * micros + 0.5


def _sketch_of(values_us: list[int]) -> str:
    counts: dict[int, int] = {}
    for v in values_us:
        counts[latency_slot(v)] = counts.get(latency_slot(v), 0) + 1
    return encode_sketch(counts.items())


def test_a_recorded_call_lands_in_the_slot_of_its_round_trip() -> None:
    """The recorder's per-call code has the slot computation inlined: it agrees with latency_slot."""
    for seconds in [0.0, 1e-6, 3.1e-5, 3.2e-5, 0.0042, 0.2, 7.5, 1000.0, *(i / 1e6 for i in range(0, 3000, 7))]:
        recorder = TimelineRecorder("stations")
        recorder.call("Heartbeat", True, seconds)
        micros = min(max(int(seconds * 1_000_000), 1), HIGHEST_US)
        counts = decode_sketch(recorder.close().points[0].calls["out:Heartbeat"])
        assert counts == {latency_slot(micros): 1}, seconds


def test_sketches_encode_and_decode_back() -> None:
    rng = random.Random(3)
    for _ in range(300):
        counts = {rng.randrange(SLOTS): rng.randrange(1, 1000) for _ in range(rng.randrange(40))}
        assert decode_sketch(encode_sketch(counts.items())) == counts
    assert encode_sketch([(80, 3), (81, 9), (83, 12), (135, 2), (140, 1)]) == "80:3,9,,12;135:2,,,,,1"


def test_merged_sketches_equal_the_sketch_of_all_values_and_percentiles_stay_within_the_error() -> None:
    rng = random.Random(7)
    a = [int(rng.lognormvariate(9, 1.2)) + 1 for _ in range(3000)]
    b = [int(rng.lognormvariate(10, 0.5)) + 1 for _ in range(2000)]
    merged = add_sketches(_sketch_of(a), _sketch_of(b))
    assert merged == _sketch_of(a + b)
    assert sketch_count(merged) == 5000
    ordered = sorted(a + b)
    p50, p99 = sketch_percentiles(merged, [50.0, 99.0])
    for got_ms, rank in ((p50, 2500), (p99, 4950)):
        exact_ms = ordered[rank - 1] / 1000
        assert abs(got_ms - exact_ms) <= SKETCH_ERROR * exact_ms + 0.001


def test_a_recorder_closes_intervals_on_the_wall_clock_with_calls_errors_states_and_connections() -> None:
    now = [1000.2]
    counts = ({"available": 3}, {"connects": 3, "disconnects": 0})

    def gauges() -> tuple[dict[str, int], dict[str, int]]:
        return counts

    recorder = TimelineRecorder("stations", interval=5.0, gauges=gauges, clock=lambda: now[0])
    recorder.call("Heartbeat", True, 0.004)
    recorder.call("Heartbeat", True, 0.006)
    recorder.call("Reset", False, 0.001)
    recorder.failed("Timeout")
    recorder.lag(1500)
    now[0] = 1004.9
    recorder.rotate_if_due()
    assert recorder.points == []  # not due yet
    now[0] = 1005.1
    recorder.rotate_if_due()
    counts = ({"available": 1, "charging": 2}, {"connects": 4, "disconnects": 1})
    recorder.call("TransactionEvent", True, 0.010)
    now[0] = 1012.0  # a late rotation: the interval that was open gets the calls
    recorder.rotate_if_due()
    now[0] = 1013.0
    timeline = recorder.close()
    first, second, last = timeline.points
    assert (first.at, second.at, last.at) == (1000.0, 1005.0, 1010.0)
    assert first.seconds == pytest.approx(4.9)
    assert sketch_count(first.calls["out:Heartbeat"]) == 2 and sketch_count(first.calls["in:Reset"]) == 1
    assert first.errors == {"Timeout": 1}
    assert first.states == {"available": 3} and first.connects == 3 and first.disconnects == 0
    assert first.execution["stations"].processes == 1 and sketch_count(first.execution["stations"].lag) == 1
    assert list(second.calls) == ["out:TransactionEvent"] and second.seconds == pytest.approx(6.9)
    assert second.states == {"available": 1, "charging": 2} and (second.connects, second.disconnects) == (1, 1)
    assert last.calls == {} and last.connects == 0


def _point(at: float, *, calls: dict[str, str] | None = None, states: dict[str, int] | None = None,
           role: str = "stations", cpu: float = 10.0) -> TimelinePoint:
    return TimelinePoint(at=at, seconds=5.0, calls=calls or {}, errors={"Timeout": 1}, states=states or {},
                         connects=2, disconnects=1,
                         execution={role: RoleLoad(processes=1, cpu_max=cpu, cpu_sum=cpu, lag=_sketch_of([900]))})


def test_timelines_merge_point_by_point_aligned_on_their_start() -> None:
    a = Timeline(interval=5.0, points=[_point(100.0, calls={"out:Heartbeat": _sketch_of([4000])}, states={"available": 2}),
                                       _point(105.0, states={"available": 2})])
    b = Timeline(interval=5.0, points=[_point(105.0, calls={"out:Heartbeat": _sketch_of([6000, 7000])},
                                              states={"available": 1, "charging": 1}, cpu=30.0),
                                       _point(110.0, role="csms")])
    merged = merge_timelines([a, b])
    assert merged is not None
    assert [p.at for p in merged.points] == [100.0, 105.0, 110.0]
    middle = merged.points[1]
    assert middle.states == {"available": 3, "charging": 1}
    assert sketch_count(middle.calls["out:Heartbeat"]) == 2
    assert middle.errors == {"Timeout": 2} and (middle.connects, middle.disconnects) == (4, 2)
    load = middle.execution["stations"]
    assert (load.processes, load.cpu_max, load.cpu_sum) == (2, 30.0, 40.0) and sketch_count(load.lag) == 2
    assert set(merged.points[2].execution) == {"csms"}
    with pytest.raises(ValueError, match="different intervals"):
        a.merge(Timeline(interval=1.0))


def _report(run_id: str, shard: list[int], timeline: Timeline | None) -> Report:
    return Report(fleet={"source": "t.toml", "run_id": run_id, "shard": shard, "stations": 2},
                  metrics=MetricsSnapshot(started_at=100.0, ended_at=115.0), timeline=timeline)


def test_the_report_keeps_its_timeline_and_shards_merge_theirs() -> None:
    a = Timeline(interval=5.0, points=[_point(100.0, states={"available": 1})])
    b = Timeline(interval=5.0, points=[_point(100.0, states={"charging": 1}), _point(105.0)])
    first = parse_report(report_json(_report("r", [0, 2], a)), "a.json")
    assert first.timeline == a
    merged = merge_reports([first, _report("r", [1, 2], b)])
    assert merged.timeline is not None
    assert merged.timeline.points[0].states == {"available": 1, "charging": 1}
    assert len(merged.timeline.points) == 2
    # one report without a timeline (an older fleet): the merge leaves the timeline out and says why
    partial = merge_reports([_report("r", [0, 2], a), _report("r", [1, 2], None)])
    assert partial.timeline is None and "not every report" in partial.fleet["timeline"]
    different = merge_reports([_report("r", [0, 2], a), _report("r", [1, 2], Timeline(interval=1.0))])
    assert different.timeline is None and "--timeline-interval" in different.fleet["timeline"]


def test_a_report_with_a_garbled_sketch_is_refused() -> None:
    bad = Timeline(points=[TimelinePoint(at=100.0, calls={"out:Heartbeat": "12:x"})])
    with pytest.raises(ValueError, match=r"timeline\.points\[0\]\.calls\.out:Heartbeat"):
        parse_report(report_json(_report("r", [0, 1], bad)), "bad.json")
    assert decode_sketch("") == {}
