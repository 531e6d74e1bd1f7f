"""The station's durable outbox: its requests to the CSMS, in order, sent one at a time.

Plain state objects with ``__slots__`` (a fleet holds tens of thousands): no I/O, no trio,
no OCPP version. The station actor drives them with its clock; the dialect says which
requests may be shed from a full offline queue (:class:`OutQueue` ``sheddable``).

* **Ordering**: requests leave in the order they were queued (the head first); while
  the station is Pending only follow-ups of CSMS requests may leave, in their order.
* **Durability**: ``durable`` items (transaction events, status notifications of
  long-running operations) stay queued across disconnections and reboots; the others
  are dropped with the connection (:meth:`OutQueue.drop_volatile`).
* **Retransmission**: an item stays at the head until it is answered or given up; a
  retry is held back until its ``not_before`` (:meth:`OutQueue.head_wait`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["OutItem", "OutQueue", "never_shed"]


def never_shed(request: Any) -> bool:
    """The default shedding rule: nothing may be dropped."""
    return False


class OutItem:
    """A request waiting to be sent.

    Attributes:
        request: the request Struct.
        durable: kept across disconnections and resets (TransactionEvents and
            status notifications of long-running operations); others are dropped
            when the connection goes.
        followup: a consequence of a CSMS request (allowed while Pending).
        on_result: called with the response, or with the exception if it failed for good.
        transaction_id: the transaction a TransactionEvent belongs to.
        seq_no: the transaction message's sequence number (for the nothing-lost audit).
        attempts: CALLERRORs so far (for TransactionEvent retries).
        not_before: do not send before this (trio) time.
        due: when a timer meant it to go out (trio time; 0 when not timer-driven), for the
            schedule lag.
    """

    __slots__ = ("attempts", "due", "durable", "followup", "not_before", "on_result", "request", "seq_no",
                 "transaction_id")

    def __init__(
        self,
        request: Any,
        *,
        durable: bool = False,
        followup: bool = False,
        on_result: Callable[[Any], None] | None = None,
        transaction_id: str | None = None,
        seq_no: int = 0,
    ) -> None:
        self.request = request
        self.durable = durable
        self.followup = followup
        self.on_result = on_result
        self.transaction_id = transaction_id
        self.seq_no = seq_no
        self.attempts = 0
        self.not_before = 0.0
        self.due = 0.0


class OutQueue:
    """The station's outgoing requests, in order; sent one at a time.

    Args:
        limit: durable items kept at most; beyond it the oldest ``sheddable`` one is dropped.
        sheddable: which requests may be dropped from a full queue (the dialect's rule:
            in OCPP 2.0.1 a periodic or clock-aligned meter-value update, never a
            transaction's start or end).
    """

    __slots__ = ("dropped", "items", "limit", "sheddable")

    def __init__(self, limit: int, sheddable: Callable[[Any], bool] = never_shed) -> None:
        # (a list: an empty deque is 760 bytes a station, and a connected station's queue
        # holds a request or two; taking the head off a list of thousands, a long offline
        # queue, moves a few kilobytes)
        self.items: list[OutItem] = []
        self.limit = limit
        self.sheddable = sheddable
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[OutItem]:
        return iter(self.items)

    def append(self, item: OutItem) -> None:
        self.items.append(item)
        if item.durable and len(self.items) > self.limit:
            self._shed()

    def _shed(self) -> None:
        # Drop the oldest request the dialect allows to drop.
        sheddable = self.sheddable
        for i, queued in enumerate(self.items):
            if sheddable(queued.request):
                del self.items[i]
                self.dropped += 1
                return

    def remove(self, item: OutItem) -> None:
        if self.items and self.items[0] is item:
            del self.items[0]
            return
        with contextlib.suppress(ValueError):
            self.items.remove(item)

    def drop_volatile(self) -> int:
        """Forget what does not survive a disconnection; return how many."""
        kept = [i for i in self.items if i.durable]
        dropped = len(self.items) - len(kept)
        self.items = kept
        return dropped

    def durable_count(self) -> int:
        return sum(1 for i in self.items if i.durable)

    def has_transaction(self, transaction_id: str | None) -> bool:
        if transaction_id is None:
            return any(i.transaction_id is not None for i in self.items)
        return any(i.transaction_id == transaction_id for i in self.items)

    def next_ready(self, now: float, *, followups_only: bool) -> OutItem | None:
        """The next request to send: the head (its ``not_before`` passed), or while
        Pending the first follow-up of a CSMS request."""
        if not self.items:
            return None
        if followups_only:
            for item in self.items:
                if item.followup and item.not_before <= now:
                    return item
            return None
        head = self.items[0]
        return head if head.not_before <= now else None

    def head_wait(self) -> float | None:
        """When the head becomes ready, if it is held back."""
        if self.items and self.items[0].not_before > 0:
            return self.items[0].not_before
        return None
