"""The control API's ``station`` detail of a simulated OCPP 1.6 station: its variables are its
1.6 configuration keys (key, value, read-only), as its dialect lists them, beside a 2.0.1
station's device-model variables. Real stations, fleet's CSMS and a real control server
over websockets on 127.0.0.1."""

from __future__ import annotations

import trio
from waiting import wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import Station
from fleet.control import LocalBackend, open_trio_client, serve_control
from fleet.control.views import MASK
from fleet.ocpp import v16
from fleet.profiles import SessionGenerator, StationProfile


def profile(version: str) -> StationProfile:
    return StationProfile(name=f"p{version}", ocpp_version=version, sessions=SessionGenerator(enabled=False),
                          ping_interval=0)


async def test_the_detail_of_a_1_6_station_lists_its_configuration_keys() -> None:
    async with open_csms(port=0, heartbeat_interval=77) as csms, trio.open_nursery() as nursery:
        stations = {"D16": Station("D16", csms.url, profile=profile("1.6"), password="a-16-character-pass"),
                    "D201": Station("D201", csms.url, profile=profile("2.0.1"), password="a-16-character-pass")}
        for station in stations.values():
            await nursery.start(station.run)
        await wait_until(lambda: all(s.snapshot().state == "available" for s in stations.values()), timeout=10)
        server = await nursery.start(serve_control, LocalBackend(stations, csms))
        async with open_trio_client(server.url) as client:
            changed = await csms.call("D16", v16.ChangeConfigurationRequest(key="MeterValueSampleInterval",
                                                                            value="42"))
            assert changed.status == v16.ConfigurationStatus.ACCEPTED
            detail = await client.request("station", station_id="D16")
            assert detail.ocpp_version == "1.6"
            keys = {v.variable: (v.value, v.readonly) for v in detail.variables}
            assert all(v.component == "" and v.instance is None and v.evse_id is None for v in detail.variables)
            assert keys["HeartbeatInterval"] == ("77", False)  # the interval the CSMS gave at boot
            assert keys["MeterValueSampleInterval"] == ("42", False)  # changed by the CSMS
            assert keys["NumberOfConnectors"] == ("1", True)
            assert keys["AuthorizationKey"] == (None, False)  # write-only: never shown
            assert "OCPPCommCtrlr" not in {v.component for v in detail.variables}
            # exactly the keys GetConfiguration reports
            reported = await csms.call("D16", v16.GetConfigurationRequest())
            assert set(keys) == {k.key for k in reported.configuration_key}
            assert {k.key: k.readonly for k in reported.configuration_key} == {k: r for k, (_, r) in keys.items()}
            # a 2.0.1 station beside it: its device model, with the read-only flags of its variables
            detail = await client.request("station", station_id="D201")
            variables = {(v.component, v.variable): (v.value, v.readonly) for v in detail.variables}
            assert variables[("OCPPCommCtrlr", "HeartbeatInterval")] == ("77", False)
            assert variables[("SecurityCtrlr", "Identity")] == ("D201", True)
            assert variables[("SecurityCtrlr", "BasicAuthPassword")][0] in (None, MASK)
        for station in stations.values():
            await station.shutdown()
        nursery.cancel_scope.cancel()
