"""fleet's OCPP 1.6 station against fleet's own CSMS (:func:`fleet.actors.csms.open_csms`)
over real websockets on 127.0.0.1: what it sends and answers while its boot is Rejected or
Pending (1.6, 4.2); MinimumStatusDuration (under trio's MockClock); reservations with a
parentIdTag."""

from __future__ import annotations

import datetime
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


def recording(csms: Any, action: str, log: list[tuple[str, Any]] | None = None) -> list[Any]:
    """The 1.6 ``action`` requests the CSMS receives (answered by its default handler);
    each also appended to ``log`` as ``(action, request)``, when given."""
    received: list[Any] = []
    answer = csms.default_handler(action, version="1.6")

    def record(request: Any, ctx: Any) -> Any:
        received.append(request)
        if log is not None:
            log.append((action, request))
        return answer(request, ctx)

    csms.on(action, record, version="1.6")
    return received


async def test_a_reservation_with_a_parent_id_tag_admits_every_id_tag_of_that_parent() -> None:
    tokens = {"OWNER": {"status": "Accepted", "group": "FLEET-1"}, "DRIVER-2": {"status": "Accepted", "group": "FLEET-1"},
              "STRANGER": {"status": "Accepted", "group": "OTHER"}, "LONE": "Accepted"}
    async with open_csms(port=0, heartbeat_interval=60, id_tokens=tokens) as csms:
        starts = recording(csms, "StartTransaction")
        authorizes = recording(csms, "Authorize")
        async with open_station("RES16", csms.url, profile=PROFILE, speed=10) as station:
            await wait_state(station, "available")

            async def reserve(reservation_id: int, parent: str | None) -> None:
                fields: dict[str, Any] = {"parent_id_tag": parent} if parent else {}
                answer = await csms.call("RES16", v16.ReserveNowRequest(
                    connector_id=1, id_tag="OWNER", reservation_id=reservation_id,
                    expiry_date=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1), **fields))
                assert answer.status == v16.ReservationStatus.ACCEPTED
                await wait_until(lambda: station.snapshot().evses[0].connectors[0].status == "Reserved")

            await reserve(7, "FLEET-1")
            await station.plug(1)
            # an idTag of another parent, or of none: Authorize tells the parent; refused
            # (had one been admitted, its transaction would start before DRIVER-2's)
            await station.start_transaction(1, "STRANGER")
            await station.start_transaction(1, "LONE")
            await wait_until(lambda: [a.id_tag for a in authorizes] == ["STRANGER", "LONE"])
            # an idTag whose parentIdTag (from Authorize) is the reservation's: it charges on the reservation
            await station.start_transaction(1, "DRIVER-2")
            await wait_until(lambda: len(starts) == 1)
            assert (starts[0].id_tag, starts[0].reservation_id) == ("DRIVER-2", 7)
            await station.stop_transaction(1)
            await station.unplug(1)
            await wait_until(lambda: station.snapshot().evses[0].transaction_id is None)

            # from the local authorization list (LocalPreAuthorize: no Authorize sent)
            answer = await csms.call("RES16", v16.SendLocalListRequest(
                list_version=1, update_type=v16.UpdateType.FULL, local_authorization_list=[
                    v16.AuthorizationData(id_tag="DRIVER-3", id_tag_info=v16.IdTagInfo(
                        status=v16.AuthorizationStatus.ACCEPTED, parent_id_tag="FLEET-1"))]))
            assert answer.status == v16.UpdateStatus.ACCEPTED
            for key in ("LocalAuthListEnabled", "LocalPreAuthorize"):
                changed = await csms.call("RES16", v16.ChangeConfigurationRequest(key=key, value="true"))
                assert changed.status == v16.ConfigurationStatus.ACCEPTED
            await reserve(8, "FLEET-1")
            asked = len(authorizes)
            await station.plug(1)
            await station.start_transaction(1, "DRIVER-3")
            await wait_until(lambda: len(starts) == 2)
            assert (starts[1].id_tag, starts[1].reservation_id) == ("DRIVER-3", 8) and len(authorizes) == asked
            await station.stop_transaction(1)
            await station.unplug(1)
            await wait_until(lambda: station.snapshot().evses[0].transaction_id is None)

            # without a parentIdTag only the reservation's own idTag may charge
            await reserve(9, None)
            await station.plug(1)
            await station.start_transaction(1, "DRIVER-3")  # (admitted, it would start before OWNER's)
            await station.start_transaction(1, "OWNER")
            await wait_until(lambda: len(starts) == 3)
            assert (starts[2].id_tag, starts[2].reservation_id) == ("OWNER", 9)


@pytest.mark.parametrize("reset_type", ["Soft", "Hard"])
async def test_reset_soft_stops_gracefully_first_and_hard_reboots_at_once_nothing_lost(reset_type: str) -> None:
    async with open_csms(port=0, heartbeat_interval=60) as csms:
        log: list[tuple[str, Any]] = []
        boots = recording(csms, "BootNotification", log)
        starts = recording(csms, "StartTransaction", log)
        stops = recording(csms, "StopTransaction", log)
        profile = msgspec.structs.replace(PROFILE, variables={"MeterValueSampleInterval": 0})
        async with open_station("RST16", csms.url, profile=profile, speed=10, password="secret-16-pass",
                                audit=True) as station:
            await wait_state(station, "available")
            await station.plug(1)
            await station.start_transaction(1, "TAG-1")
            await wait_until(lambda: station.snapshot().evses[0].transaction_id == "1")
            answer = await csms.call("RST16", v16.ResetRequest(type=v16.ResetType(reset_type)))
            assert answer.status == v16.ResetStatus.ACCEPTED
            await wait_until(lambda: len(boots) == 2 and len(stops) == 1)
            await wait_state(station, "available")
            snapshot = station.snapshot()
        [stop] = stops
        assert stop.transaction_id == 1 and stop.meter_stop >= starts[0].meter_start
        assert stop.reason == (v16.Reason.SOFT_RESET if reset_type == "Soft" else v16.Reason.HARD_RESET)
        order = [action for action, _ in log]
        if reset_type == "Soft":  # the StopTransaction answered before the reboot
            assert order == ["BootNotification", "StartTransaction", "StopTransaction", "BootNotification"]
        else:  # rebooted at once: the queued StopTransaction delivered after the next boot
            assert order == ["BootNotification", "StartTransaction", "BootNotification", "StopTransaction"]
        assert boots[0] == boots[1]  # the same identity
        assert snapshot.counters.reboots == 1 and snapshot.counters.transactions_ended == 1
        record = csms.station("RST16")
        assert record is not None and list(record.transactions) == ["1"]
        tx = record.transactions["1"]
        assert tx.started and tx.ended and tx.energy_wh == float(stop.meter_stop)
        assert station.snapshot().evses[0].transaction_id is None


async def test_a_rejected_1_6_station_that_reconnects_still_waits_the_retry_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_csms(port=0, boot_retry_interval=30, heartbeat_interval=3600) as csms:
        csms.set_boot_status("Rejected", "RQ16")
        boots: list[float] = []
        answer_boot = csms.default_handler("BootNotification", version="1.6")

        def boot(request: Any, ctx: Any) -> Any:
            boots.append(trio.current_time())
            return answer_boot(request, ctx)

        csms.on("BootNotification", boot, version="1.6")
        async with open_station("RQ16", csms.url, profile=PROFILE) as station:
            await wait_state(station, "rejected", timeout=60)
            # the CSMS closes the connection: the station comes back after its back-off (1 s) ...
            assert await csms.drop_connection("RQ16")
            await wait_until(lambda: station.snapshot().counters.connects == 2 and csms.is_connected("RQ16"),
                             timeout=60)
            assert station.snapshot().state == "rejected" and len(boots) == 1
            # ... still Rejected: it answers nothing, and sends nothing before the 30 s are over
            with pytest.raises(CallTimeout):
                await csms.call("RQ16", v16.GetConfigurationRequest(), timeout=5)
            csms.set_boot_status(None, "RQ16")
            await wait_state(station, "available", timeout=60)
            await wait_until(lambda: sent(csms, "RQ16").get("StatusNotification", 0) >= 2, timeout=60)
        assert len(boots) == 2 and boots[1] - boots[0] >= 30
        assert set(sent(csms, "RQ16")) == {"BootNotification", "StatusNotification"}
