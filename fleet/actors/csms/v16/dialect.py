"""The CSMS's OCPP 1.6 dialect: :data:`DIALECT`, registered in :mod:`fleet.actors.csms.dialects`."""

from __future__ import annotations

from typing import Final

from ....ocpp import V16
from ..dialect import DialectTables
from .handlers import default_handlers
from .recorders import ANSWER_RECORDERS, RECORDERS

__all__ = ["DIALECT"]

#: OCPP 1.6J as the CSMS speaks it.
DIALECT: Final = DialectTables(V16, recorders=RECORDERS, answer_recorders=ANSWER_RECORDERS, handlers=default_handlers)
