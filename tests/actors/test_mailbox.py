"""The station's mailbox: order, waking its receiver, cancellation and closing."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from fleet.actors.station.mailbox import Mailbox


async def test_messages_come_out_in_the_order_they_went_in() -> None:
    mailbox: Mailbox[int] = Mailbox()
    for n in range(5):
        mailbox.put(n)
    assert len(mailbox) == 5
    assert [await mailbox.get() for _ in range(3)] == [0, 1, 2]
    assert mailbox.get_nowait() == 3 and mailbox.get_nowait() == 4
    with pytest.raises(trio.WouldBlock):
        mailbox.get_nowait()
    assert not mailbox


async def test_a_waiting_receiver_is_woken_by_a_put_from_another_task() -> None:
    mailbox: Mailbox[str] = Mailbox()
    got: list[str] = []

    async def receive() -> None:
        got.append(await mailbox.get())
        got.append(await mailbox.get())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        mailbox.put("first")
        await trio.testing.wait_all_tasks_blocked()
        assert got == ["first"]
        mailbox.put("second")
    assert got == ["first", "second"]


async def test_a_cancelled_wait_loses_nothing_and_the_mailbox_still_works() -> None:
    mailbox: Mailbox[int] = Mailbox()
    with trio.move_on_after(0.01) as scope:
        await mailbox.get()
    assert scope.cancelled_caught
    mailbox.put(7)  # no receiver to wake now: it stays queued
    assert await mailbox.get() == 7


async def test_one_receiver_at_a_time() -> None:
    mailbox: Mailbox[int] = Mailbox()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(mailbox.get)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await mailbox.get()
        mailbox.put(1)


async def test_a_closed_mailbox_refuses_messages_and_keeps_what_it_had() -> None:
    mailbox: Mailbox[int] = Mailbox()
    mailbox.put(1)
    mailbox.close()
    with pytest.raises(trio.ClosedResourceError):
        mailbox.put(2)
    assert mailbox.get_nowait() == 1


async def test_get_is_a_checkpoint_even_with_a_message_waiting() -> None:
    mailbox: Mailbox[int] = Mailbox()
    mailbox.put(1)
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await mailbox.get()
    assert len(mailbox) == 1  # the message was not taken
