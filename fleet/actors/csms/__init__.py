"""The built-in CSMS: serves OCPP stations, answers them, remembers what they sent.

* :mod:`.actor`: the :class:`Csms` actor (connections, the methods control calls,
  statistics, restarts, the flood policy) and :func:`open_csms`;
* :mod:`.records`: what it remembers about each station (its transactions, statuses...);
* :mod:`.auth`: the credentials it checks (Basic auth passwords, the id-token list);
* :mod:`.v201`: what it answers to OCPP 2.0.1 stations.
* :mod:`.v16`: what it answers to OCPP 1.6 stations (and the transaction ids it assigns them).
"""

from .actor import (
    DEFAULT_FLOOD_CLOSE_AFTER,
    DEFAULT_MAX_CALL_RATE,
    IDLE_TIMEOUT,
    ConnectionInfo,
    Csms,
    CsmsStatistics,
    PendingRequest,
    StationNotConnected,
    open_csms,
)

__all__ = [
    "DEFAULT_FLOOD_CLOSE_AFTER",
    "DEFAULT_MAX_CALL_RATE",
    "IDLE_TIMEOUT",
    "ConnectionInfo",
    "Csms",
    "CsmsStatistics",
    "PendingRequest",
    "StationNotConnected",
    "open_csms",
]
