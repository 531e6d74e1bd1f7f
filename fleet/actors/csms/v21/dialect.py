"""The CSMS's OCPP 2.1 dialect: :data:`DIALECT`, registered in :mod:`fleet.actors.csms.dialects`.

It records what 2.1 stations send with 2.0.1's recorders and what 2.1 adds (a
transaction's tariff and cost, periodic event streams), and the tariffs stations accept
from it (:mod:`.recorders`).
"""

from __future__ import annotations

from typing import Final

from ....ocpp import V21
from ..dialect import DialectTables
from .handlers import default_handlers
from .recorders import ANSWER_RECORDERS, CALL_RECORDERS, RECORDERS

__all__ = ["DIALECT"]

#: OCPP 2.1 as the CSMS speaks it.
DIALECT: Final = DialectTables(V21, recorders=RECORDERS, answer_recorders=ANSWER_RECORDERS, handlers=default_handlers,
                               call_recorders=CALL_RECORDERS)
