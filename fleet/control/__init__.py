"""The control API: drive a running fleet or CSMS over a websocket, from any language.

A control server (:class:`~fleet.control.server.ControlServer`) listens on
127.0.0.1 by default. Bound to any other address it refuses to start without a
token; clients then send it as ``Authorization: Bearer <token>`` or ``?token=<token>``
(a missing or wrong token gets HTTP 401).

Messages are JSON objects with a ``"type"``. The client sends commands with an
``"id"`` of its choice (a number or a string); the server answers each with exactly
one reply carrying that id::

    → {"type": "plug", "id": 7, "station_id": "HOME001", "evse_id": 1}
    ← {"type": "result", "id": 7, "result": {"ok": true, "station_id": "HOME001", "message": ""}}
    ← {"type": "error", "id": 8, "code": "not_found", "message": "no station 'CS9'", "details": {}}
    ← {"type": "event", "subscription": "s1", "event": {"station_id": "HOME001", "kind": "request", ...}}

Error codes: ``bad_request`` (not JSON, not an object, a missing, unknown or
wrong field, or a field the station cannot honour, e.g. a connector it lacks), ``unknown_command``, ``not_found``, ``not_connected``, ``unsupported``
(e.g. CSMS commands on a fleet without a CSMS), ``unknown_action``,
``invalid_payload`` (the OCPP payload does not validate; ``message`` names the
JSON path), ``conflict``, ``busy``, ``internal_error``. A bad command never closes
the connection; a message over 16 MiB does (websocket close 1009).

Commands (fields with a default are optional):

=====================  ===========================================================  ======================
command                fields                                                       result
=====================  ===========================================================  ======================
``info``               —                                                            kind, version, commands
``snapshot``           rows=true, offset=0, limit=null                              FleetSnapshot
``station``            station_id                                                   StationDetail
``subscribe``          station_id=null, source="auto"|"station"|"csms"              {subscription}
``unsubscribe``        subscription | station_id                                    Ack
``connect``            station_id, url=null, password=null, new_station_id=null     Ack
``close``              station_id                                                   Ack
``set_retry_backoff``  station_id, minimum, repeat, random_range (seconds)          Ack
``plug``               station_id, evse_id=1, connector_id=1                        Ack
``unplug``             station_id, evse_id=1, connector_id=null                     Ack
``start_transaction``  station_id, evse_id=1, connector_id=null, id_token=null      Ack
``stop_transaction``   station_id, evse_id=1, reason=null                           Ack
``reset``              station_id, reset_type="Immediate"|"OnIdle"                  Ack
``add_stations``       profile, count=1, prefix=null, connect=true                  {station_ids}
``remove_stations``    station_ids                                                  {removed, missing}
``send``               station_id, action, payload={}, message_id, tag, timeout     SendResult
``csms_connections``   —                                                            {connections}
``csms_pending``       station_id=null                                              {pending}
``get_auth_list``      —                                                            {enabled, station_ids}
``set_auth_list``      auth ({station id: password} or null)                        Ack
``get_auth_cs``        station_id                                                   {has_password, ...}
``set_auth_cs``        station_id, password (null removes it)                       Ack
``csms_send``          station_id, action, payload={}, message_id, tag, timeout     SendResult
``disconnect``         station_ids | share (0..1), seed=null                        FaultResult
``partition``          duration (s), station_ids | share (0..1), seed=null          FaultResult
``restart_csms``       downtime=5 (s)                                               FaultResult
``set_boot_status``    status ("Accepted"|"Pending"|"Rejected"|null), station_ids   FaultResult
=====================  ===========================================================  ======================

* ``FleetSnapshot``: ``at``, ``kind`` (fleet / csms), ``phase``, ``total``,
  ``states`` (stations by state), ``calls_per_s``, ``completed``, ``failed``,
  ``actions`` (per action and direction: count, rate, p50_ms, p99_ms, errors),
  ``errors`` (by CALLERROR code), ``reconnects``, ``counters``,
  ``csms_connected``, ``rows`` (one per station: id, profile, state, connectors,
  power_w, energy_wh, soc, tx_id, last_error, calls, errors, reconnects, queued).
* ``StationDetail``: ``row``, ``url``, ``ocpp_version``, ``evses`` (id,
  connectors with status, transaction with power_w, energy_wh, soc), ``variables``
  (device model), ``errors``, ``counters``.
* ``SendResult``: ``station_id``, ``action``, ``message_id``, ``outcome``
  (``response``, ``callerror``, ``invalid_response``, ``timeout``,
  ``connection_lost``), ``response`` (the CALLRESULT payload), ``error`` (code,
  description, details) and ``tag``, the opaque value sent with the command.
* Events (``subscribe``): ``station_id``, ``kind`` (``connected``,
  ``disconnected``, ``request``, ``response``, ``error``, ``ended``), ``at``,
  ``direction``, ``source``, ``action``, ``message_id``, ``payload``, ``tag``,
  ``frame`` (the raw OCPP-J array), ``ocpp_version``, ``reason``.
* Passwords are secrets: ``get_auth_list`` lists ids only and ``get_auth_cs``
  only says whether a password is set.
* Fault commands (fault injection on demand; see :mod:`fleet.faults` for the
  scheduled kind): ``disconnect`` drops links abruptly (a TCP reset, no websocket
  close) and the stations reconnect with their back-off; ``partition`` also makes
  every connection attempt fail for ``duration`` seconds. Both take ``station_ids``
  (an unknown id: ``not_found``, nothing done) or a ``share`` of the fleet drawn from
  ``seed`` (default: the fleet's seed; the same seed picks the same stations, and
  ``round(share * stations)`` of them). The stations act them out where this server
  runs them (``fleet run``, stations in the process); a CSMS alone (``fleet csms``)
  does it from its side (it drops the connections and, while partitioned, drops a
  station's new connections right after the handshake). ``restart_csms`` (the
  built-in CSMS only: ``unsupported`` against an external one) stops listening and
  drops every connection, then listens again on the same port after ``downtime``
  (what the CSMS recorded is kept; ``fleet run`` times the fleet's return and reports
  it); a second one while it is down: ``conflict``. ``set_boot_status`` sets the
  CSMS's answer to the stations' next BootNotification (``null``: the usual answer;
  without ``station_ids``: every station's). ``FaultResult``: ``command``,
  ``station_ids`` (the stations hit), ``dropped`` (links dropped now), ``until`` (when
  a partition or a restart ends, wall clock), ``message``.

A Python client::

    import asyncio
    from fleet.control import ControlClient

    async def main():
        async with ControlClient("ws://127.0.0.1:7700/", token="s3cret") as fleet:
            snap = await fleet.request("snapshot", rows=False)
            print(snap.states, f"{snap.calls_per_s:.0f} calls/s")
            reply = await fleet.request("send", station_id="HOME001", action="Heartbeat", payload={}, tag="hb-1")
            print(reply.outcome, reply.response, reply.tag)
            await fleet.request("subscribe", station_id="HOME001")
            async for event in fleet.events():
                print(event.kind, event.frame)

    asyncio.run(main())
"""

from .backend import ControlBackend, ControlError, LocalBackend
from .client import ControlClient, ControlConnectionError, ControlRequestError, open_trio_client
from .messages import ControlEvent, FleetSnapshot, StationDetail, StationRow
from .server import ControlServer, serve_control

__all__ = [
    "ControlBackend",
    "ControlClient",
    "ControlConnectionError",
    "ControlError",
    "ControlEvent",
    "ControlRequestError",
    "ControlServer",
    "FleetSnapshot",
    "LocalBackend",
    "StationDetail",
    "StationRow",
    "open_trio_client",
    "serve_control",
]
