"""One peer floods, the others must not stall (issue 10, section 3).

Real websockets on 127.0.0.1. A flooder writes thousands of pipelined CALLs into its
socket at once (OCPP-J allows one in flight); the connection reading them must share
the event loop with the others, so a healthy peer's calls keep being answered *while*
the flood is being handled. Assertions count answers and check their order, never
how fast anything was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import trio
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import Station
from fleet.metrics import Metrics
from fleet.net.transport import Accepted, open_station_websocket, serve_ocpp
from fleet.net.websocket import ConnectionClosed, WebSocket
from fleet.ocpp.v201 import GetLocalListVersionRequest
from fleet.profiles import StationProfile
from fleet.run.report import Report, render_summary

FLOOD = 3000  # CALLs written at once
BIG = 60_000  # every 20th is a DataTransfer this big


def flood_frame(n: int, action: str = "Heartbeat") -> str:
    if n % 20 == 19:
        return f'[2,"flood-{n}","DataTransfer",{{"vendorId":"fleet.flood","data":"{"x" * BIG}"}}]'
    return f'[2,"flood-{n}","{action}",{{}}]'


class Answers:
    """The flooder's answers, in the order they came."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.kinds: list[str] = []
        self.close_code: int | None = None

    async def read(self, websocket: WebSocket) -> None:
        try:
            while True:
                frame = json.loads(await websocket.get_message())
                if isinstance(frame[1], str) and frame[1].startswith("flood-"):
                    self.ids.append(int(frame[1][6:]))
                    self.kinds.append("CALLRESULT" if frame[0] == 3 else str(frame[2]))
        except ConnectionClosed as exc:
            self.close_code = exc.reason.code if exc.reason else None


async def write_flood(websocket: WebSocket, count: int = FLOOD, action: str = "Heartbeat") -> None:
    """All frames back to back, no yield between them: they pile up in the socket."""
    try:
        for n in range(count):
            await websocket.send_message(flood_frame(n, action))
    except ConnectionClosed:
        pass


async def healthy_heartbeats(websocket: WebSocket, in_flood: Callable[[], bool], seen: list[bool],
                             stop: trio.Event, pause: float = 0.0) -> None:
    """A well-behaved station: one Heartbeat at a time (``pause`` s apart); for each answer,
    whether the flood was being handled when it came."""
    n = 0
    while not stop.is_set():
        await trio.sleep(pause)
        await websocket.send_message(f'[2,"hb-{n}","Heartbeat",{{}}]')
        while not (await websocket.get_message()).startswith(f'[3,"hb-{n}"'):
            pass
        seen.append(in_flood())
        n += 1


async def test_a_flooding_station_does_not_stall_a_healthy_one_and_gets_every_answer_in_order() -> None:
    async with open_csms(port=0, idle_timeout=None) as csms:
        def handled() -> int:  # the flooder's CALLs the CSMS has handled so far
            record = csms.station("FLOODER")
            return sum(record.messages.values()) if record is not None else 0

        answers = Answers()
        seen: list[bool] = []
        stop = trio.Event()
        with trio.fail_after(40):
            async with open_station_websocket(csms.url, "HEALTHY") as (healthy, _), \
                    open_station_websocket(csms.url, "FLOODER") as (flooder, _), trio.open_nursery() as nursery:
                    nursery.start_soon(healthy_heartbeats, healthy, lambda: 0 < handled() < FLOOD, seen, stop)
                    nursery.start_soon(answers.read, flooder)
                    await wait_until(lambda: len(seen) >= 3, timeout=40, what="the healthy station running")
                    await write_flood(flooder)
                    await wait_until(lambda: len(answers.ids) >= FLOOD, timeout=40, what="every flood CALL answered",
                                     show=lambda: len(answers.ids))
                    stop.set()
                    nursery.cancel_scope.cancel()
        assert answers.ids == list(range(FLOOD))  # every CALL answered, in order
        assert set(answers.kinds) == {"CALLRESULT"}  # no limits set: nothing refused
        during = sum(seen)
        # The reader yields between frames that were already there: the healthy station's
        # heartbeats are answered while the flood is handled (before the fix: a few at most,
        # between socket-fulls of the flood).
        assert during >= 100, f"only {during} healthy answers while the flood was handled"
        stats = csms.statistics()
        assert stats.flood["pipelined"] > FLOOD // 2  # most came in a read with the previous one
        assert stats.flood["refused_rate"] == stats.flood["closed"] == 0


async def test_a_flooder_beyond_the_rate_gets_callerrors_then_a_1008_close_while_others_are_answered() -> None:
    metrics = Metrics()  # (as the built-in CSMS of a run has: its counters go into the run report)
    async with open_csms(port=0, idle_timeout=None, max_call_rate=50, call_burst=20, flood_close_after=30,
                         observer=metrics) as csms:
        answers = Answers()
        seen: list[bool] = []
        stop = trio.Event()
        with trio.fail_after(30):
            async with open_station_websocket(csms.url, "HEALTHY") as (healthy, _), \
                    open_station_websocket(csms.url, "FLOODER") as (flooder, _), trio.open_nursery() as nursery:
                    # (20 a second: within the rate)
                    nursery.start_soon(healthy_heartbeats, healthy, lambda: answers.close_code is None, seen, stop, 0.05)
                    nursery.start_soon(answers.read, flooder)
                    await wait_until(lambda: len(seen) >= 3, timeout=30, what="the healthy station running")
                    await write_flood(flooder, 1000)
                    await wait_until(lambda: answers.close_code is not None, timeout=30, what="the flooder closed")
                    seen_at_close = len(seen)
                    # the healthy station goes on; the flooder is gone
                    await wait_until(lambda: len(seen) >= seen_at_close + 5 and not csms.is_connected("FLOODER"),
                                     timeout=30, what="five more healthy answers, the flooder disconnected")
                    healthy_connected = csms.is_connected("HEALTHY")
                    stop.set()
                    nursery.cancel_scope.cancel()
        assert answers.close_code == 1008
        assert answers.ids == sorted(answers.ids) and len(set(answers.ids)) == len(answers.ids)  # in order
        results = answers.kinds.count("CALLRESULT")
        refused = answers.kinds.count("GenericError")
        assert results >= 20  # the burst, at least
        assert refused == 30  # the limit: the 30th refusal is the last answer before the close
        assert results + refused == len(answers.kinds) < 1000
        assert answers.kinds[:20] == ["CALLRESULT"] * 20
        stats = csms.statistics()
        assert stats.flood["refused_rate"] == 30 and stats.flood["closed"] == 1
        assert metrics.counters["flood_refused_rate"] == 30 and metrics.counters["flood_closed"] == 1
        assert metrics.counters["flood_pipelined"] == stats.flood["pipelined"] > 0
        summary = render_summary(Report(metrics=metrics.export()))
        assert "floods (CSMS)" in summary and "refused_rate 30" in summary
        assert healthy_connected
        # the flooder's refused CALLs were not handled (nor recorded)
        record = csms.station("FLOODER")
        assert record is not None and sum(record.messages.values()) == results


async def test_a_station_flooded_by_its_csms_does_not_stall_the_other_stations_of_its_process() -> None:
    flood_answers = Answers()
    flood_started = trio.Event()

    async def hostile(accepted: Accepted) -> None:
        """Answers the station's boot and heartbeats; on ``flood_started``, floods it."""
        websocket = accepted.websocket

        async def answer_and_count() -> None:
            try:
                while True:
                    text = await websocket.get_message()
                    frame = json.loads(text)
                    if frame[0] == 2:
                        payload: dict[str, Any] = {"currentTime": "2026-01-01T00:00:00Z"}
                        if frame[2] == "BootNotification":
                            payload.update(interval=60, status="Accepted")
                        elif frame[2] != "Heartbeat":
                            payload = {}
                        await websocket.send_message(json.dumps([3, frame[1], payload]))
                    elif isinstance(frame[1], str) and frame[1].startswith("flood-"):
                        flood_answers.ids.append(int(frame[1][6:]))
                        flood_answers.kinds.append("CALLRESULT" if frame[0] == 3 else str(frame[2]))
            except ConnectionClosed:
                pass

        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer_and_count)
            await flood_started.wait()
            await write_flood(websocket, FLOOD, "GetLocalListVersion")
            await trio.sleep_forever()

    profile = StationProfile(name="flood", heartbeat_interval=60, ping_interval=0)
    async with open_csms(port=0, idle_timeout=None) as csms, trio.open_nursery() as nursery:
        port = await nursery.start(serve_ocpp, hostile, "127.0.0.1", 0)
        flooded = Station("FLOODED", f"ws://127.0.0.1:{port}/ocpp", profile=profile, seed=1)
        healthy = Station("HEALTHY", csms.url, profile=profile, seed=2)
        await nursery.start(flooded.run)
        await nursery.start(healthy.run)
        seen: list[bool] = []
        with trio.fail_after(40):
            for station in (flooded, healthy):
                await station.wait_until(lambda s: s.registration == "Accepted")
            flood_started.set()
            # The CSMS calls the healthy station one call at a time (no timers involved).
            while len(flood_answers.ids) < FLOOD:
                await csms.call("HEALTHY", GetLocalListVersionRequest())
                seen.append(0 < len(flood_answers.ids) < FLOOD)
        nursery.cancel_scope.cancel()
    assert flood_answers.ids == list(range(FLOOD))  # the flooded station answered everything, in order
    during = sum(seen)
    assert during >= 100, f"only {during} calls answered by the healthy station while the other was flooded"
    conn = flooded.connection
    counters = conn.flood_counters.as_dict() if conn is not None else {}
    assert not counters or counters["refused_rate"] == 0  # a station answers all (no rate limit)


async def test_calls_beyond_the_handlers_allowed_at_once_are_refused_and_the_others_answered_later() -> None:
    release = trio.Event()
    async with open_csms(port=0, idle_timeout=None, max_pending_calls=4) as csms:

        @csms.on("Heartbeat")
        async def slow(request: Any, ctx: Any) -> Any:
            await release.wait()
            return csms.default_handler("Heartbeat")(request, ctx)

        answers = Answers()
        with trio.fail_after(20):
            async with open_station_websocket(csms.url, "FLOODER") as (flooder, _), trio.open_nursery() as nursery:
                nursery.start_soon(answers.read, flooder)
                for n in range(10):  # ten Heartbeats (no big frames), none waiting for its answer
                    await flooder.send_message(f'[2,"flood-{n}","Heartbeat",{{}}]')
                await wait_until(lambda: len(answers.ids) >= 6, timeout=20, what="six answers (the refusals)")
                release.set()
                await wait_until(lambda: len(answers.ids) >= 10, timeout=20, what="the ten answers")
                nursery.cancel_scope.cancel()
        # four handlers ran at once; the six CALLs that came meanwhile were refused at once,
        # in order; the four were answered when their handlers finished
        assert answers.ids[:6] == list(range(4, 10)) and answers.kinds[:6] == ["GenericError"] * 6
        assert sorted(answers.ids[6:]) == [0, 1, 2, 3] and answers.kinds[6:] == ["CALLRESULT"] * 4
        flood = csms.statistics().flood
        assert flood["refused_pending"] == 6 and flood["closed"] == 0


async def test_the_chaos_flood_runs_every_direction_and_reports_its_figures() -> None:
    """``fleet chaos``'s floods (peers in their own processes), briefly: the figures are
    there and the flooders got what the policy says; how fast is not judged here."""
    from fleet.chaos.flood import FloodConfig, render_flood, run_flood

    with trio.fail_after(50):
        flood = await run_flood(FloodConfig(healthy=1, baseline_s=0.5, flood_s=0.7))
    for direction in ("to_csms", "to_csms_limited", "to_station"):
        figures = flood[direction]
        assert figures["baseline"]["answers"] > 0 and figures["flood"]["answers"] > 0
        assert figures["flooder"]["sent"] >= 1000 and figures["flooder"]["results"] > 0
        assert set(figures["goals"]) == {"p99_within_noise", "max_under_250ms", "memory_bounded"}
    assert not flood["to_csms"]["flooder"]["errors"] and not flood["to_csms"]["flooder"]["closes"]
    limited = flood["to_csms_limited"]
    assert limited["flooder"]["errors"].get("GenericError", 0) > 0
    assert any(close.startswith("1008") for close in limited["flooder"]["closes"])
    assert limited["csms_flood_counters"]["closed"] >= 1
    assert flood["to_station"]["station_flood_counters"]["pipelined"] > 0
    text = "\n".join(render_flood(flood))
    assert "a hostile CSMS floods a station" in text and "1008" in text


async def test_connecting_again_does_not_refill_the_rate_limit() -> None:
    # one CALL per 100 s on average, five at once: a flooder spends the burst at once
    async with open_csms(port=0, idle_timeout=None, max_call_rate=0.01, call_burst=5, flood_close_after=3) as csms:
        rounds = []
        with trio.fail_after(20):
            for _ in range(2):
                answers = Answers()
                async with open_station_websocket(csms.url, "FLOODER") as (flooder, _), \
                        trio.open_nursery() as nursery:
                    nursery.start_soon(answers.read, flooder)
                    await write_flood(flooder, 20)
                    await wait_until(lambda answers=answers: answers.close_code is not None, timeout=20,
                                     what="the flooder closed")
                    nursery.cancel_scope.cancel()
                await wait_until(lambda: not csms.is_connected("FLOODER"), timeout=20,
                                 what="the flooder gone at the CSMS")
                rounds.append(answers)
        first, second = rounds
        assert first.kinds == ["CALLRESULT"] * 5 + ["GenericError"] * 3 and first.close_code == 1008
        # the second connection starts with the bucket the first left empty
        assert second.kinds == ["GenericError"] * 3 and second.close_code == 1008
        assert csms.statistics().flood["closed"] == 2
