"""``csms_send`` to an OCPP 1.6 station: the control API decodes the payload with the station's version.

A real control server over the real CSMS actor, with a 2.0.1 station (fleet's own
:class:`~fleet.actors.station.Station`) and a 1.6 charge point made of fleet's protocol core
(``tests/ocpp16_station.py``) connected to it at once: the same command sends each its own
version's request, validated against its own version's types, and returns its typed answer
as JSON.
"""

from __future__ import annotations

import datetime
from typing import Any

import trio
from ocpp16_station import open_v16_station
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import Station
from fleet.control import ControlRequestError, LocalBackend, open_trio_client, serve_control
from fleet.control.messages import SendResult
from fleet.net.connection import CallContext
from fleet.ocpp import v16
from fleet.profiles import SessionGenerator, StationProfile

MANUAL = StationProfile(name="manual", sessions=SessionGenerator(enabled=False))


async def test_csms_send_decodes_with_each_station_s_version() -> None:
    changes: list[v16.ChangeConfigurationRequest] = []

    def change_configuration(request: v16.ChangeConfigurationRequest, ctx: CallContext) -> Any:
        changes.append(request)
        status = v16.ConfigurationStatus.ACCEPTED if request.key == "HeartbeatInterval" else "NotSupported"
        return v16.ChangeConfigurationResponse(status=status)

    def remote_start(request: v16.RemoteStartTransactionRequest, ctx: CallContext) -> Any:
        return v16.RemoteStartTransactionResponse(status=v16.RemoteStartStopStatus.ACCEPTED)

    handlers = {"ChangeConfiguration": change_configuration, "RemoteStartTransaction": remote_start}
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        new = Station("CS201", csms.url, profile=MANUAL, seed=1)
        await nursery.start(new.run)
        server = await nursery.start(serve_control, LocalBackend({"CS201": new}, csms))
        async with open_trio_client(server.url) as client, open_v16_station(csms.url, "CP16", handlers) as old:
            await old.call(v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M"))
            await wait_until(lambda: new.state == "available")
            connections = {c.station_id: c.ocpp_version for c in csms.connections()}
            assert connections == {"CS201": "2.0.1", "CP16": "1.6"}

            reply = await client.request("csms_send", station_id="CP16", action="ChangeConfiguration",
                                         payload={"key": "HeartbeatInterval", "value": "30"}, tag="t1")
            assert isinstance(reply, SendResult)
            assert (reply.outcome, reply.response, reply.tag) == ("response", {"status": "Accepted"}, "t1")
            assert changes == [v16.ChangeConfigurationRequest(key="HeartbeatInterval", value="30")]
            reply = await client.request("csms_send", station_id="CP16", action="RemoteStartTransaction",
                                         payload={"idTag": "TAG-1", "connectorId": 1})
            assert reply.response == {"status": "Accepted"}
            # the 2.0.1 spelling of a remote start is no 1.6 action; a 2.0.1 value is no 1.6 value
            wrong = await _error(client, "csms_send", station_id="CP16", action="RequestStartTransaction",
                                 payload={"idToken": {"idToken": "T", "type": "ISO14443"}, "remoteStartId": 1})
            assert wrong.code == "unknown_action" and "OCPP 1.6" in str(wrong)
            wrong = await _error(client, "csms_send", station_id="CP16", action="Reset", payload={"type": "Immediate"})
            assert wrong.code == "invalid_payload"
            assert len(changes) == 1

            # the same command to the 2.0.1 station: its own version's action and payload
            reply = await client.request("csms_send", station_id="CS201", action="RequestStartTransaction",
                                         payload={"idToken": {"idToken": "T", "type": "ISO14443"}, "remoteStartId": 1})
            assert reply.outcome == "response" and reply.response["status"] == "Accepted"
            wrong = await _error(client, "csms_send", station_id="CS201", action="RemoteStartTransaction",
                                 payload={"idTag": "TAG-1"})
            assert wrong.code == "unknown_action" and "OCPP 2.0.1" in str(wrong)
            await new.shutdown()
        nursery.cancel_scope.cancel()


async def _error(client: Any, command: str, **fields: Any) -> ControlRequestError:
    try:
        await client.request(command, **fields)
    except ControlRequestError as error:
        return error
    raise AssertionError(f"{command} {fields} was not refused")


async def test_the_csms_s_snapshot_and_detail_show_a_1_6_station() -> None:
    at = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    async with open_csms(port=0) as csms, trio.open_nursery() as nursery:
        server = await nursery.start(serve_control, LocalBackend(csms=csms))
        async with open_trio_client(server.url) as client, open_v16_station(csms.url, "CP16") as cp:
            await cp.call(v16.BootNotificationRequest(charge_point_vendor="acme", charge_point_model="Wallbox-16",
                                                      charge_point_serial_number="SN-16", firmware_version="1.2.3"))
            await cp.call(v16.StatusNotificationRequest(connector_id=1, error_code=v16.ChargePointErrorCode.NO_ERROR,
                                                        status=v16.ChargePointStatus.CHARGING))
            started = await cp.call(v16.StartTransactionRequest(connector_id=1, id_tag="TAG-1", meter_start=100,
                                                                timestamp=at))
            await cp.call(v16.MeterValuesRequest(connector_id=1, transaction_id=started.transaction_id, meter_value=[
                v16.MeterValue(timestamp=at, sampled_value=[
                    v16.SampledValue(value="350"),
                    v16.SampledValue(value="7400", measurand=v16.Measurand.POWER_ACTIVE_IMPORT),
                    v16.SampledValue(value="a1b2", measurand=v16.Measurand.POWER_ACTIVE_IMPORT,
                                     format=v16.ValueFormat.SIGNED_DATA)])]))
            snapshot = await client.request("snapshot")
            [row] = snapshot.rows
            assert (row.id, row.ocpp_version, row.state, row.profile) == ("CP16", "1.6", "charging", "Wallbox-16")
            assert (row.tx_id, row.connectors, row.power_w, row.energy_wh) == (
                str(started.transaction_id), ["Charging"], 7400.0, 350.0)  # (the signed value is no number)
            detail = await client.request("station", station_id="CP16")
            assert detail.ocpp_version == "1.6"
            assert {v.variable: v.value for v in detail.variables} == {
                "model": "Wallbox-16", "vendor_name": "acme", "serial_number": "SN-16", "firmware_version": "1.2.3"}
            [evse] = detail.evses
            assert evse.id == 1 and evse.transaction is not None and evse.transaction.id_token == "TAG-1"
        nursery.cancel_scope.cancel()
