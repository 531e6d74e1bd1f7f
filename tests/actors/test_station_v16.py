"""fleet's OCPP 1.6 station against fleet's own CSMS (:func:`fleet.actors.csms.open_csms`)
over real websockets on 127.0.0.1: what it sends and answers while its boot is Rejected or
Pending (1.6, 4.2); MinimumStatusDuration (under trio's MockClock)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from waiting import wait_state, wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import open_station
from fleet.ocpp import CallTimeout, v16
from fleet.profiles import RetryBackoff, SampledData, SessionGenerator, StationProfile

pytestmark = pytest.mark.timeout(30)

#: A 1.6 station for these tests: no transaction generator, quick back-off and reboot.
PROFILE = StationProfile(
    ocpp_version="1.6",
    sessions=SessionGenerator(enabled=False),
    retry_backoff=RetryBackoff(wait_minimum=1, repeat_times=1, random_range=0),
    sampled_data=SampledData(tx_updated_interval=1),
    ping_interval=0,
    reboot_delay=0.2,
)


def sent(csms: object, station_id: str) -> dict[str, int]:
    """What the CSMS received from ``station_id``: action -> count."""
    record = csms.station(station_id)  # type: ignore[attr-defined]
    return dict(record.messages) if record is not None else {}


async def test_a_rejected_1_6_station_answers_nothing_and_sends_only_its_boot() -> None:
    async with open_csms(port=0, boot_retry_interval=1, heartbeat_interval=60) as csms:
        csms.set_boot_status("Rejected", "REJ16")
        async with open_station("REJ16", csms.url, profile=PROFILE, protocol_speed=10) as station:
            await wait_state(station, "rejected")
            await station.plug(1)  # a vehicle arrives: still nothing but BootNotification goes out
            # while Rejected the station answers no CALL: no CALLRESULT, no CALLERROR
            with pytest.raises(CallTimeout):
                await csms.call("REJ16", v16.GetConfigurationRequest(key=["HeartbeatInterval"]), timeout=1)
            with pytest.raises(CallTimeout):
                await csms.call("REJ16", v16.TriggerMessageRequest(
                    requested_message=v16.MessageTrigger.BOOT_NOTIFICATION), timeout=1)
            await wait_until(lambda: sent(csms, "REJ16").get("BootNotification", 0) >= 3)
            assert set(sent(csms, "REJ16")) == {"BootNotification"}
            assert station.snapshot().state == "rejected"
            # accepted later: it answers again, and reports its connectors
            csms.set_boot_status(None, "REJ16")
            await wait_state(station, "available")
            answer = await csms.call("REJ16", v16.GetConfigurationRequest(key=["HeartbeatInterval"]))
            assert answer.configuration_key[0].value == "60"
            await wait_until(lambda: sent(csms, "REJ16").get("StatusNotification", 0) >= 2)
        assert csms.statistics().violations == 0


async def test_a_pending_1_6_station_answers_but_refuses_remote_start_and_stop_and_sends_only_what_is_triggered(
) -> None:
    async with open_csms(port=0, boot_retry_interval=600, heartbeat_interval=60,
                         id_tokens={"TAG-1": "Accepted"}) as csms:
        csms.set_boot_status("Pending", "PEN16")
        async with open_station("PEN16", csms.url, profile=PROFILE, protocol_speed=10) as station:
            await wait_state(station, "pending")
            await station.plug(1)  # no StatusNotification while Pending
            answer = await csms.call("PEN16", v16.GetConfigurationRequest(key=["HeartbeatInterval"]))
            assert answer.configuration_key[0].value == "300"
            change = await csms.call("PEN16", v16.ChangeConfigurationRequest(key="MeterValueSampleInterval",
                                                                             value="5"))
            assert change.status == v16.ConfigurationStatus.ACCEPTED
            # RemoteStartTransaction and RemoteStopTransaction are not allowed while Pending
            start = await csms.call("PEN16", v16.RemoteStartTransactionRequest(id_tag="TAG-1", connector_id=1))
            assert start.status == v16.RemoteStartStopStatus.REJECTED
            stop = await csms.call("PEN16", v16.RemoteStopTransactionRequest(transaction_id=1))
            assert stop.status == v16.RemoteStartStopStatus.REJECTED
            assert set(sent(csms, "PEN16")) == {"BootNotification"}
            # what a TriggerMessage asks for goes out
            trigger = await csms.call("PEN16", v16.TriggerMessageRequest(
                requested_message=v16.MessageTrigger.STATUS_NOTIFICATION, connector_id=1))
            assert trigger.status == v16.TriggerMessageStatus.ACCEPTED
            await wait_until(lambda: sent(csms, "PEN16").get("StatusNotification") == 1)
            assert set(sent(csms, "PEN16")) == {"BootNotification", "StatusNotification"}
            assert station.snapshot().evses[0].transaction_id is None
            # accepted (a triggered boot): now a remote start is accepted
            csms.set_boot_status(None, "PEN16")
            trigger = await csms.call("PEN16", v16.TriggerMessageRequest(
                requested_message=v16.MessageTrigger.BOOT_NOTIFICATION))
            assert trigger.status == v16.TriggerMessageStatus.ACCEPTED
            await wait_state(station, "available")
            start = await csms.call("PEN16", v16.RemoteStartTransactionRequest(id_tag="TAG-1", connector_id=1))
            assert start.status == v16.RemoteStartStopStatus.ACCEPTED
            await wait_until(lambda: sent(csms, "PEN16").get("StartTransaction") == 1)


async def test_minimum_status_duration_reports_only_a_status_that_held_that_long(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_csms(port=0, heartbeat_interval=3600) as csms:
        statuses: list[tuple[int, str, float]] = []
        answer_status = csms.default_handler("StatusNotification", version="1.6")

        def record(request: v16.StatusNotificationRequest, ctx: Any) -> Any:
            statuses.append((request.connector_id, str(request.status), trio.current_time()))
            return answer_status(request, ctx)

        csms.on("StatusNotification", record, version="1.6")
        profile = msgspec.structs.replace(PROFILE, variables={"MinimumStatusDuration": 10})
        async with open_station("MSD16", csms.url, profile=profile) as station:
            await wait_until(lambda: len(statuses) == 2, timeout=60)  # the boot's report: at once
            assert [s[:2] for s in statuses] == [(0, "Available"), (1, "Available")]
            # Preparing for 2 s, then Available again: neither is reported
            await station.plug(1)
            await trio.sleep(2)
            await station.unplug(1)
            await trio.sleep(30)
            assert len(statuses) == 2
            # Preparing, then held: reported once, when it held for 10 s
            await station.plug(1)
            plugged = trio.current_time()
            await wait_until(lambda: len(statuses) == 3, timeout=60)
            assert statuses[2][:2] == (1, "Preparing") and statuses[2][2] >= plugged + 10
            # Available for 2 s then Preparing: the last one (Preparing) is known: nothing sent
            await station.unplug(1)
            await trio.sleep(2)
            await station.plug(1)
            await trio.sleep(30)
            assert len(statuses) == 3
            # MinimumStatusDuration 0: every change is reported at once
            change = await csms.call("MSD16", v16.ChangeConfigurationRequest(key="MinimumStatusDuration", value="0"))
            assert change.status == v16.ConfigurationStatus.ACCEPTED
            await station.unplug(1)
            await station.plug(1)
            await wait_until(lambda: len(statuses) == 5, timeout=60)
            assert [s[:2] for s in statuses[3:]] == [(1, "Available"), (1, "Preparing")]
