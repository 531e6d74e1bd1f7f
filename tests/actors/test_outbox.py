"""The station's durable outbox without sockets or trio (:mod:`fleet.actors.station.outbox`):
ordering, durability across disconnections, retransmission hold-back, shedding."""

from __future__ import annotations

from fleet.actors.station.outbox import OutItem, OutQueue
from fleet.actors.station.v201.transactions import sheddable
from fleet.ocpp.v201 import (
    HeartbeatRequest,
    Transaction,
    TransactionEvent,
    TransactionEventRequest,
    TriggerReason,
)


def event(seq: int, kind: TransactionEvent = TransactionEvent.UPDATED,
          trigger: TriggerReason = TriggerReason.METER_VALUE_PERIODIC) -> OutItem:
    request = TransactionEventRequest(event_type=kind, timestamp="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
                                      trigger_reason=trigger, seq_no=seq,
                                      transaction_info=Transaction(transaction_id="T1"))
    return OutItem(request, durable=True, transaction_id="T1")


def seqs(queue: OutQueue) -> list[int]:
    return [item.request.seq_no for item in queue if item.transaction_id is not None]


def test_requests_leave_in_the_order_they_were_queued() -> None:
    queue = OutQueue(limit=100)
    items = [event(n) for n in range(5)]
    for item in items:
        queue.append(item)
    sent = []
    while (item := queue.next_ready(0.0, followups_only=False)) is not None:
        sent.append(item.request.seq_no)
        queue.remove(item)
    assert sent == [0, 1, 2, 3, 4]
    assert len(queue) == 0


def test_while_pending_only_follow_ups_leave_in_their_order() -> None:
    queue = OutQueue(limit=100)
    queue.append(event(0))
    first, second = OutItem(HeartbeatRequest(), followup=True), OutItem(HeartbeatRequest(), followup=True)
    queue.append(first)
    queue.append(second)
    assert queue.next_ready(0.0, followups_only=True) is first
    queue.remove(first)
    assert queue.next_ready(0.0, followups_only=True) is second
    assert queue.next_ready(0.0, followups_only=False).request.seq_no == 0  # type: ignore[union-attr]


def test_durable_requests_survive_a_disconnection_in_order_the_others_do_not() -> None:
    queue = OutQueue(limit=100)
    queue.append(event(0, TransactionEvent.STARTED, TriggerReason.AUTHORIZED))
    queue.append(OutItem(HeartbeatRequest()))
    queue.append(event(1))
    queue.append(OutItem(HeartbeatRequest(), followup=True))
    queue.append(event(2, TransactionEvent.ENDED, TriggerReason.STOP_AUTHORIZED))
    assert queue.durable_count() == 3
    assert queue.drop_volatile() == 2
    assert seqs(queue) == [0, 1, 2] and len(queue) == 3
    assert queue.has_transaction("T1") and queue.has_transaction(None) and not queue.has_transaction("T2")


def test_a_retry_holds_the_head_back_and_nothing_overtakes_it() -> None:
    queue = OutQueue(limit=100)
    head, behind = event(0), event(1)
    queue.append(head)
    queue.append(behind)
    assert queue.head_wait() is None
    head.attempts = 1
    head.not_before = 10.0  # no answer: retry at t=10
    assert queue.head_wait() == 10.0
    assert queue.next_ready(5.0, followups_only=False) is None  # the next one does not overtake it
    assert queue.next_ready(10.0, followups_only=False) is head
    queue.remove(head)
    assert queue.next_ready(10.0, followups_only=False) is behind


def test_a_full_queue_sheds_the_oldest_periodic_meter_value_never_a_start_or_end() -> None:
    queue = OutQueue(limit=3, sheddable=sheddable)
    queue.append(event(0, TransactionEvent.STARTED, TriggerReason.AUTHORIZED))
    queue.append(event(1))
    queue.append(event(2))
    queue.append(event(3, TransactionEvent.ENDED, TriggerReason.STOP_AUTHORIZED))
    assert seqs(queue) == [0, 2, 3] and queue.dropped == 1
    queue.append(event(4, TransactionEvent.STARTED, TriggerReason.AUTHORIZED))
    assert seqs(queue) == [0, 3, 4] and queue.dropped == 2
    queue.append(event(5, TransactionEvent.ENDED, TriggerReason.STOP_AUTHORIZED))
    assert seqs(queue) == [0, 3, 4, 5] and queue.dropped == 2  # nothing sheddable left: kept


def test_without_a_shedding_rule_nothing_is_dropped() -> None:
    queue = OutQueue(limit=1)
    for n in range(3):
        queue.append(event(n))
    assert seqs(queue) == [0, 1, 2] and queue.dropped == 0


def test_remove_takes_an_item_out_wherever_it_is() -> None:
    queue = OutQueue(limit=100)
    items = [event(n) for n in range(3)]
    for item in items:
        queue.append(item)
    queue.remove(items[1])
    queue.remove(items[1])  # already gone: no error
    assert seqs(queue) == [0, 2]


def test_an_empty_queue_is_small_and_a_long_one_keeps_its_order() -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        queues = [OutQueue(10) for _ in range(100)]
        per_queue = (tracemalloc.get_traced_memory()[0] - before) / len(queues)
    finally:
        tracemalloc.stop()
    assert per_queue < 200, per_queue  # (an empty deque alone was 760 bytes)
    queue = OutQueue(5000)
    items = [event(n) for n in range(3000)]
    for item in items:
        queue.append(item)
    for item in items[:1000]:
        queue.remove(item)
    queue.remove(items[2000])
    assert seqs(queue) == [*range(1000, 2000), *range(2001, 3000)]
