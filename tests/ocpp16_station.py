"""A bare OCPP 1.6 charge point made of fleet's protocol core, for the CSMS's tests.

:func:`open_v16_station` connects to a CSMS offering only ``ocpp1.6`` and runs a
:class:`~fleet.ocpp.Session` of :data:`fleet.ocpp.V16` in the station's role over a
:class:`~fleet.net.connection.OcppConnection`: the test sends the charge point's
CALLs itself (``await station.call(v16.BootNotificationRequest(...))``) and gives the
handlers that answer the CSMS's. It has no behaviour of its own (the 1.6 station
dialect is :mod:`fleet.actors.station`'s business): real frames over a real websocket,
checked against the 1.6 types both ways.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import trio

from fleet.net.connection import Handler, OcppConnection
from fleet.net.transport import open_station_websocket
from fleet.ocpp import V16, Session


@asynccontextmanager
async def open_v16_station(
    csms_url: str, station_id: str, handlers: Mapping[str, Handler] | None = None, *, password: str | None = None
) -> AsyncIterator[OcppConnection]:
    """A 1.6 connection of ``station_id`` to the CSMS at ``csms_url``, served until the block ends."""
    async with open_station_websocket(
        csms_url, station_id, password=password, subprotocols=(V16.subprotocol,)
    ) as (websocket, version):
        assert version is V16, version
        session = Session(version, role="station", supported_actions=version.initiated_by_csms)
        connection = OcppConnection(websocket, session, station_id, handlers=dict(handlers or {}))
        async with trio.open_nursery() as nursery:
            await nursery.start(connection.serve)
            yield connection
            nursery.cancel_scope.cancel()
