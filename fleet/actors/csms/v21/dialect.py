"""The CSMS's OCPP 2.1 dialect: :data:`DIALECT`, registered in :mod:`fleet.actors.csms.dialects`.

It records what 2.1 stations send with the 2.0.1 recorders (:mod:`..v201.recorders`: the
messages both versions share have the same fields; what only 2.1 sends is counted).
"""

from __future__ import annotations

from typing import Final

from ....ocpp import V21
from ..dialect import DialectTables
from ..v201.recorders import ANSWER_RECORDERS, RECORDERS
from .handlers import default_handlers

__all__ = ["DIALECT"]

#: OCPP 2.1 as the CSMS speaks it.
DIALECT: Final = DialectTables(V21, recorders=RECORDERS, answer_recorders=ANSWER_RECORDERS, handlers=default_handlers)
