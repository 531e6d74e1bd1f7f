"""The simulated charging station: a version-free actor and per-OCPP-version dialects.

``from fleet.actors.station import Station, open_station`` is the way in; see
:mod:`.actor` for the actor and :mod:`.v201` for OCPP 2.0.1.
"""

from .actor import (
    STATES,
    ConnectorSnapshot,
    EvseSnapshot,
    Station,
    StationCounters,
    StationSnapshot,
    StationState,
    backoff_base,
    backoff_delay,
    open_station,
)
from .profile_loading import load_profile

__all__ = [
    "STATES",
    "ConnectorSnapshot",
    "EvseSnapshot",
    "Station",
    "StationCounters",
    "StationSnapshot",
    "StationState",
    "backoff_base",
    "backoff_delay",
    "load_profile",
    "open_station",
]
