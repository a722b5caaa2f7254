"""`Signal.wait` ends on a change, on its timeout, and when cancelled: even when the
cancellation arrives together with a change (a stopping worker must not wait out a fetch)."""

from __future__ import annotations

import asyncio

from qtasks.backends.signals import Signal


def test_wait_sees_a_change_and_a_timeout() -> None:
    async def main() -> tuple[bool, bool]:
        signal = Signal()
        waiter = asyncio.ensure_future(signal.wait(signal.version, 5.0))
        await asyncio.sleep(0)
        signal.notify()
        changed = await waiter
        timed_out = await signal.wait(signal.version, 0.01)
        return changed, timed_out

    assert asyncio.run(main()) == (True, False)


def test_a_cancellation_that_meets_a_change_still_cancels() -> None:
    async def main() -> bool:
        signal = Signal()
        waiter = asyncio.ensure_future(signal.wait(signal.version, 5.0))
        await asyncio.sleep(0)
        signal.notify()  # resolves the waiter's future on the next loop turn...
        waiter.cancel()  # ...while the worker cancels the wait
        await asyncio.gather(waiter, return_exceptions=True)
        return waiter.cancelled()

    assert asyncio.run(main()) is True
