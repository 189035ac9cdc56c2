"""Race code against itself: threads that start at the same instant, each with its own database
connection (as separate workers or requests have)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def at_once(target: Callable[[int], T], count: int, *, timeout: float = 60) -> list[T]:
    """Call `target(0)` ... `target(count - 1)` in `count` threads released together; return
    their results in that order. The first exception a thread raised is raised here; a thread
    still running after `timeout` seconds fails the test."""
    barrier = threading.Barrier(count, timeout=timeout)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target(index)
        except BaseException as error:  # raised again in the calling thread below
            errors.append(error)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), (
        f"threads still running after {timeout}s"
    )
    if errors:
        raise errors[0]
    return [results[index] for index in range(count)]
