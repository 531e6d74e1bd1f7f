"""How a 1.6 station numbers its connectors.

OCPP 1.6 has no EVSE level: a charge point has connectors ``1..N`` and connector ``0``
stands for the whole charge point. The profile describes EVSEs, each with its
connectors; a 1.6 station numbers them across the station in the profile's order:
EVSE 1's connectors first (1, 2, ...), then EVSE 2's, and so on. A profile with two
EVSEs of one connector each gives connectors 1 and 2; one EVSE with two connectors
(CCS and CHAdeMO sharing one power stage) gives connectors 1 and 2 of that EVSE.
"""

from __future__ import annotations

from typing import Final

from ..hardware import ConnectorState, EvseState

__all__ = ["ConnectorMap"]

#: (EVSE id, connector id) -> 1.6 connector id, one table per layout shared by the stations that have it
#: (every station of a profile): a table per station was about 220 bytes of each.
_LAYOUTS: Final[dict[tuple[tuple[int, int], ...], dict[tuple[int, int], int]]] = {}


class ConnectorMap:
    """1.6 connector id <-> (EVSE, connector of that EVSE), fixed for a station's life.

    Args:
        evses: the station's EVSEs, in order.
    """

    __slots__ = ("_by_id", "_ids")

    def __init__(self, evses: list[EvseState]) -> None:
        self._by_id: list[tuple[EvseState, ConnectorState]] = [
            (evse, connector) for evse in evses for connector in evse.connectors
        ]
        layout = tuple((evse.id, connector.connector_id) for evse, connector in self._by_id)
        ids = _LAYOUTS.get(layout)
        if ids is None:
            ids = _LAYOUTS[layout] = {key: n for n, key in enumerate(layout, start=1)}
        self._ids: dict[tuple[int, int], int] = ids

    def __len__(self) -> int:
        """NumberOfConnectors."""
        return len(self._by_id)

    def get(self, connector_id: int) -> tuple[EvseState, ConnectorState] | None:
        """The EVSE and connector of 1.6 ``connector_id`` (``None`` for 0 or an unknown id)."""
        if 1 <= connector_id <= len(self._by_id):
            return self._by_id[connector_id - 1]
        return None

    def id_of(self, evse: EvseState, connector_id: int) -> int:
        """The 1.6 connector id of ``connector_id`` of ``evse``."""
        return self._ids[(evse.id, connector_id)]

    def ids_of(self, evse: EvseState) -> list[int]:
        """The 1.6 connector ids of ``evse``'s connectors."""
        return [self._ids[(evse.id, c.connector_id)] for c in evse.connectors]

    def all(self) -> list[tuple[int, EvseState, ConnectorState]]:
        """Every connector: (1.6 id, EVSE, connector)."""
        return [(n, evse, connector) for n, (evse, connector) in enumerate(self._by_id, start=1)]
