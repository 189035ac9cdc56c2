"""Group commit: many threads' small writes, committed together in one transaction.

A web process answers webhooks on several threads at once. Each answer must wait until its row
is committed, and on SQLite every commit takes the one write lock; on PostgreSQL every commit is
a round trip and a flush of the log. So each thread hands its item to a `GroupCommit` and waits:
one of the waiting threads, the leader, writes everything waiting (up to `limit` items) in one
call of `write` on its own database connection, tells each thread its result, and hands the lead
to the next waiting thread. Alone, a thread leads at once and writes its item by itself, so an
idle server adds no delay; under load the batches grow by themselves and each commit carries
more rows.

Nothing is answered before it is written: a thread gets its result only after `write` returned
for the batch holding its item. If `write` raised, every thread of that batch raises that error
(each its own copy, chained to the original, so that no two threads share one traceback); if it
returned an exception as an item's result, that item's thread alone raises it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Waiting(Generic[Item, Result]):
    __slots__ = ("done", "error", "item", "leader", "result", "wake")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.result: Result | Exception | None = None
        self.error: BaseException | None = None
        self.wake = threading.Event()  # set when written (done) or when made the leader
        self.done = False
        self.leader = False  # the thread that wrote the batch raises the original error


def _own_copy(error: BaseException) -> BaseException:
    """A copy of `error` for one more thread to raise (the same type, so callers catch it the
    same way); the original itself when it cannot be copied."""
    try:
        copied = copy.copy(error)
    except Exception:
        return error
    copied.__traceback__ = None
    return copied


class GroupCommit(Generic[Item, Result]):
    """Hand items to `write(items) -> results` (one result per item, in order, or an exception
    for that item's thread to raise), batched.

    `write` runs on the thread of the leader, with that thread's database connection; it must
    commit what it writes before it returns.
    """

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        *,
        limit: int = 50,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._write = write
        self._limit = limit
        self._lock = threading.Lock()
        self._waiting: list[_Waiting[Item, Result]] = []  # not empty only while a thread leads
        self._leading = False

    def submit(self, item: Item) -> Result:
        """Write `item` with whatever else is waiting, and return its result once committed."""
        mine: _Waiting[Item, Result] = _Waiting(item)
        with self._lock:
            self._waiting.append(mine)
            lead = not self._leading
            self._leading = True
        if not lead:
            mine.wake.wait()
        if not mine.done:
            # Leading: our item is the oldest waiting one, so it is in this batch.
            self._lead(mine)
        error = mine.error
        if error is None and isinstance(mine.result, Exception):
            error = mine.result
        if error is not None:
            copied = error if mine.leader else _own_copy(error)
            if copied is error:
                raise error
            raise copied from error
        return mine.result  # type: ignore[return-value]  # set by the batch that wrote it

    def _lead(self, mine: _Waiting[Item, Result]) -> None:
        mine.leader = True
        with self._lock:
            batch = self._waiting[: self._limit]
            del self._waiting[: self._limit]
        try:
            results = self._write([waiting.item for waiting in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"write returned {len(results)} results for {len(batch)} items")
            for waiting, result in zip(batch, results, strict=True):
                waiting.result = result
        except Exception as error:  # every thread of the batch raises it
            for waiting in batch:
                waiting.error = error
        except BaseException:  # the leader was interrupted (exit, ^C): it alone re-raises that
            for waiting in batch:
                waiting.error = RuntimeError("the thread writing this batch was interrupted")
            mine.error = None
            raise
        finally:
            for waiting in batch:
                waiting.done = True
                waiting.wake.set()
            with self._lock:
                if self._waiting:
                    self._waiting[0].wake.set()  # the next leader, with the lead still held
                else:
                    self._leading = False
