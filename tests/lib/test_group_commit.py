"""Group commit: every item written once, in batches that grow under load, each thread answered
only after its own batch was written, and a failure reaching exactly the threads it concerns."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from imprint.lib.group_commit import GroupCommit

TIMEOUT = 30


class Recorder:
    """A `write` that records its batches; the first one can be held until released."""

    def __init__(self, *, hold_first: bool = False, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.hold = threading.Event()
        self.holding = threading.Event()
        if not hold_first:
            self.hold.set()
        self.fail_on = fail_on

    def __call__(self, items: Sequence[int]) -> list[str]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.holding.set()
            assert self.hold.wait(TIMEOUT)
        if self.fail_on in items:
            raise ValueError(f"cannot write {self.fail_on}")
        return [f"wrote {item}" for item in items]


def _submit_in_threads(group: GroupCommit, items: Sequence[int]) -> tuple[dict, list]:
    results: dict[int, object] = {}
    threads = []
    for item in items:

        def run(item: int = item) -> None:
            try:
                results[item] = group.submit(item)
            except Exception as error:
                results[item] = error

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
    return results, threads


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread was never answered"


def _wait_for_waiting(group: GroupCommit, count: int) -> None:
    """Until `count` items wait behind the batch being written."""
    for _ in range(TIMEOUT * 100):
        with group._lock:
            if len(group._waiting) >= count:
                return
        threading.Event().wait(0.01)
    raise AssertionError(f"never {count} items waiting")


def _behind_a_held_write(group: GroupCommit, write: Recorder, items: Sequence[int]) -> dict:
    """Submit item 0 and hold its write; submit `items` meanwhile, so that they wait behind it;
    release it once they all wait. Returns what each of `items` got (a result or an error)."""
    _, first = _submit_in_threads(group, [0])
    assert write.holding.wait(TIMEOUT)
    results, threads = _submit_in_threads(group, items)
    _wait_for_waiting(group, len(items))
    write.hold.set()
    _join(first + threads)
    return results


def test_a_thread_alone_writes_its_item_at_once() -> None:
    write = Recorder()
    group = GroupCommit(write)
    assert group.submit(7) == "wrote 7"
    assert group.submit(8) == "wrote 8"
    assert write.batches == [[7], [8]]


def test_items_arriving_during_a_write_go_together_in_the_next_batch() -> None:
    write = Recorder(hold_first=True)
    group = GroupCommit(write)
    first, first_threads = _submit_in_threads(group, [0])
    assert write.holding.wait(TIMEOUT)
    others, other_threads = _submit_in_threads(group, range(1, 21))
    _wait_for_waiting(group, 20)
    assert not others, "no thread may be answered before its item is written"
    write.hold.set()
    _join(first_threads + other_threads)
    assert write.batches[0] == [0]
    assert sorted(write.batches[1]) == list(range(1, 21))
    assert len(write.batches) == 2
    assert {**first, **others} == {item: f"wrote {item}" for item in range(21)}


def test_a_batch_holds_at_most_limit_items_and_the_rest_follow() -> None:
    write = Recorder(hold_first=True)
    group = GroupCommit(write, limit=4)
    results = _behind_a_held_write(group, write, range(1, 11))
    assert [len(batch) for batch in write.batches] == [1, 4, 4, 2]
    assert sorted(item for batch in write.batches for item in batch) == list(range(11))
    assert results == {item: f"wrote {item}" for item in range(1, 11)}


def test_a_failed_write_fails_its_own_batch_only() -> None:
    write = Recorder(hold_first=True, fail_on=3)
    group = GroupCommit(write, limit=5)
    results = _behind_a_held_write(group, write, range(1, 10))
    failed = next(batch for batch in write.batches if 3 in batch)
    for item in range(1, 10):
        if item in failed:
            assert isinstance(results[item], ValueError), item
            assert str(results[item]) == "cannot write 3"
        else:
            assert results[item] == f"wrote {item}"
    # The group still works after a failure.
    assert group.submit(42) == "wrote 42"


def test_an_interrupted_leader_raises_its_interruption_and_its_batch_gets_an_error() -> None:
    class Interrupted(BaseException):
        pass

    held = threading.Event()
    release = threading.Event()
    calls = []

    def write(items: Sequence[int]) -> list[str]:
        calls.append(list(items))
        if len(calls) == 1:
            held.set()
            assert release.wait(TIMEOUT)
            return ["wrote 0"]
        if len(calls) == 2:
            raise Interrupted
        return [f"wrote {item}" for item in items]

    group = GroupCommit(write)
    _, first = _submit_in_threads(group, [0])
    assert held.wait(TIMEOUT)
    outcomes: dict[int, object] = {}
    threads = []
    for item in (1, 2):

        def run(item: int = item) -> None:
            try:
                outcomes[item] = group.submit(item)
            except BaseException as error:
                outcomes[item] = error

        threads.append(threading.Thread(target=run))
        threads[-1].start()
    _wait_for_waiting(group, 2)
    release.set()
    _join(first + threads)
    kinds = sorted(type(outcome).__name__ for outcome in outcomes.values())
    assert kinds == ["Interrupted", "RuntimeError"]
    assert group.submit(3) == "wrote 3"


def test_a_write_returning_the_wrong_number_of_results_is_an_error() -> None:
    group: GroupCommit[int, str] = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        group.submit(1)


def test_many_threads_many_rounds_every_item_written_once() -> None:
    written: list[int] = []
    lock = threading.Lock()

    def write(items: Sequence[int]) -> list[int]:
        with lock:
            written.extend(items)
        threading.Event().wait(0.001)
        return [item * 2 for item in items]

    group = GroupCommit(write, limit=7)
    results: dict[int, int] = {}

    def run(thread: int) -> None:
        for round_ in range(50):
            item = thread * 1000 + round_
            results[item] = group.submit(item)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    _join(threads)
    expected = [n * 1000 + r for n in range(16) for r in range(50)]
    assert sorted(written) == sorted(expected)
    assert results == {item: item * 2 for item in expected}


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(lambda items: items, limit=0)


def test_an_exception_returned_for_one_item_is_raised_by_its_thread_alone() -> None:
    refused = ValueError("item 2 refused")
    write = Recorder(hold_first=True)

    def write_refusing(items: Sequence[int]) -> list[object]:
        results: list[object] = list(write(items))
        return [
            refused if item == 2 else result for item, result in zip(items, results, strict=True)
        ]

    group = GroupCommit(write_refusing)
    results = _behind_a_held_write(group, write, [1, 2, 3])
    assert write.batches == [[0], sorted(write.batches[1])]
    assert sorted(write.batches[1]) == [1, 2, 3]
    assert results[1] == "wrote 1"
    assert results[3] == "wrote 3"
    assert isinstance(results[2], ValueError)
    assert str(results[2]) == "item 2 refused"


def test_each_thread_of_a_failed_batch_raises_its_own_copy_of_the_error() -> None:
    write = Recorder(hold_first=True, fail_on=2)
    group = GroupCommit(write)
    results = _behind_a_held_write(group, write, [1, 2, 3])
    errors = [results[item] for item in (1, 2, 3)]
    assert all(isinstance(error, ValueError) for error in errors)
    assert all(str(error) == "cannot write 2" for error in errors)
    # Raised in three threads: at most one is the original; the others are copies chained to it.
    originals = {id(error.__cause__ or error) for error in errors}
    assert len(originals) == 1
    assert len({id(error) for error in errors}) == 3


def test_an_error_that_cannot_be_copied_is_raised_as_it_is() -> None:
    class Picky(Exception):
        def __init__(self, code: int, text: str) -> None:
            super().__init__(f"{code} {text}")  # args no longer match __init__: copy fails

    write_calls = Recorder(hold_first=True)

    def write(items: Sequence[int]) -> list[str]:
        write_calls(items)
        raise Picky(5, "refused")

    group = GroupCommit(write)
    results = _behind_a_held_write(group, write_calls, [1, 2])
    for item in (1, 2):
        error = results[item]
        assert isinstance(error, Picky)
        assert error.__cause__ is not error  # never chained to itself
