"""The CSMS's OCPP 2.1 dialect: :data:`DIALECT`, registered in :mod:`fleet.actors.csms.dialects`.

It records what 2.1 stations send with the 2.0.1 recorders (:mod:`..v201.recorders`: the
messages both versions share have the same fields; what only 2.1 sends is counted).
"""

from __future__ import annotations

from typing import Final

from ....net.connection import Handler
from ....ocpp import V21
from ..policy import CsmsPolicy
from ..v201.dialect import V201Dialect
from .actions import CSMS_ACTIONS, STATION_ACTIONS
from .handlers import default_handlers

__all__ = ["DIALECT", "V21Dialect"]


class V21Dialect(V201Dialect):
    """OCPP 2.1 as the CSMS speaks it (a :class:`~fleet.actors.csms.dialect.CsmsDialect`)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self.version = V21
        self.station_actions = STATION_ACTIONS
        self.csms_actions = CSMS_ACTIONS

    def default_handlers(self, policy: CsmsPolicy) -> dict[str, Handler]:
        """The default answers to every 2.1 message a station sends (:mod:`.handlers`)."""
        return default_handlers(policy)


#: The 2.1 dialect.
DIALECT: Final = V21Dialect()
