"""The transaction ids a CSMS hands out to OCPP 1.6 stations.

In OCPP 1.6 the central system, not the station, names a transaction: it answers
each StartTransaction with a ``transactionId``, an integer. :class:`TransactionIds`
gives each new transaction the next integer (unique within one CSMS), and gives a
StartTransaction that repeats the station's previous one exactly (the station sent
it again because the answer was lost with its connection, or timed out) the id it
already got, so one transaction never gets two ids.
"""

from __future__ import annotations

from ....ocpp.v16 import StartTransactionRequest

__all__ = ["TransactionIds"]


class TransactionIds:
    """Hands out transaction ids: ``first``, ``first + step``, ... (one allocator per CSMS).

    Args:
        first: the first id.
        step: the difference between two ids (several processes serving as one CSMS
            count in disjoint sequences: ``first`` = 1, 2, ... ``step`` = their number).
    """

    __slots__ = ("_last_start", "_next", "_step")

    def __init__(self, first: int = 1, step: int = 1) -> None:
        self._next = first
        self._step = step
        #: station id -> its last StartTransaction and the id it got (one per station: a
        #: retransmission repeats the station's latest request)
        self._last_start: dict[str, tuple[StartTransactionRequest, int]] = {}

    def assign(self, station_id: str, request: StartTransactionRequest) -> int:
        """The id of the transaction ``request`` starts: a new one, or the one given to the
        same request (equal in every field) last time this station asked."""
        last = self._last_start.get(station_id)
        if last is not None and last[0] == request:
            return last[1]
        transaction_id = self._next
        self._next += self._step
        self._last_start[station_id] = (request, transaction_id)
        return transaction_id
