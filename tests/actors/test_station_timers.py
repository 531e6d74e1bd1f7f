"""The station's named timers without trio (:mod:`fleet.actors.station.timers`)."""

from __future__ import annotations

from fleet.actors.station.timers import Timers


def test_a_name_holds_one_deadline_and_the_earliest_wins() -> None:
    timers = Timers()
    fired: list[str] = []
    timers.set("heartbeat", 30.0, lambda: fired.append("heartbeat"))
    timers.set(("atg", 1), 10.0, lambda: fired.append("atg"))
    assert timers.next_at(100.0) == 10.0
    assert timers.next_at(5.0) == 5.0
    timers.set(("atg", 1), 50.0, lambda: fired.append("atg again"))  # replaced, not added
    assert len(timers) == 2 and timers.next_at(100.0) == 30.0
    assert timers.due(29.0) == [] and timers.due(30.0) == ["heartbeat"]
    entry = timers.pop("heartbeat")
    assert entry is not None and entry[0] == 30.0
    entry[1]()
    assert fired == ["heartbeat"] and "heartbeat" not in timers and timers.pop("heartbeat") is None
    timers.cancel(("atg", 1))
    timers.cancel(("atg", 1))
    assert len(timers) == 0 and timers.next_at(100.0) == 100.0


def test_a_reboot_keeps_only_the_timers_it_must() -> None:
    timers = Timers()
    for name in ("fw", "heartbeat", ("fault", "disconnect"), ("atg", 1), "meter"):
        timers.set(name, 1.0, lambda: None)
    timers.keep_only(lambda name: name == "fw" or (isinstance(name, tuple) and name[0] == "fault"))
    assert list(timers) == ["fw", ("fault", "disconnect")]
