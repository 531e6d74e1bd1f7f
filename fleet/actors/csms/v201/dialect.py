"""The CSMS's OCPP 2.0.1 dialect: :data:`DIALECT`, registered in :mod:`fleet.actors.csms.dialects`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ....net.connection import Handler
from ....ocpp import V201, ProtocolVersion
from ..dialect import AnswerRecorder, Recorder
from ..policy import CsmsPolicy
from .actions import CSMS_ACTIONS, STATION_ACTIONS
from .handlers import default_handlers
from .recorders import ANSWER_RECORDERS, RECORDERS

__all__ = ["DIALECT", "V201Dialect"]


class V201Dialect:
    """OCPP 2.0.1 as the CSMS speaks it (a :class:`~fleet.actors.csms.dialect.CsmsDialect`)."""

    __slots__ = ("answer_recorders", "csms_actions", "recorders", "station_actions", "version")

    def __init__(self) -> None:
        self.version: ProtocolVersion = V201
        self.station_actions: frozenset[str] = STATION_ACTIONS
        self.csms_actions: frozenset[str] = CSMS_ACTIONS
        self.recorders: Mapping[str, Recorder] = RECORDERS
        self.answer_recorders: Mapping[str, AnswerRecorder] = ANSWER_RECORDERS

    def __repr__(self) -> str:
        return f"<CSMS dialect OCPP {self.version.name}>"

    def default_handlers(self, policy: CsmsPolicy) -> dict[str, Handler]:
        """The default answers to every 2.0.1 message a station sends (:mod:`.handlers`)."""
        return default_handlers(policy)


#: The 2.0.1 dialect.
DIALECT: Final = V201Dialect()
