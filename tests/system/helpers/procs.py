"""Run workers in OS processes (spawn) or threads, released together by a barrier.

A worker is a top-level function ``fn(index, start, **kwargs)``: it does its setup (imports,
engine, a first connection), calls ``start()`` to wait at the barrier until every worker is
ready, and returns a picklable result. ``start`` may be called again for another round: the
barrier is cyclic, so each round is released at the same moment for all workers.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest

#: How long a worker waits at the barrier for the others before giving up.
BARRIER_TIMEOUT_S = 120.0

Worker = Callable[..., Any]


def _call(fn: Worker, barrier: Any, results: Any, index: int, kwargs: dict[str, Any]) -> None:
    def start() -> None:
        barrier.wait(BARRIER_TIMEOUT_S)

    try:
        value = fn(index, start, **kwargs)
    except BaseException:
        barrier.abort()  # the others stop waiting for a worker that will never arrive
        results.put((index, False, traceback.format_exc()))
    else:
        results.put((index, True, value))


def _serve(index: int, barriers: dict[int, Any], tasks: Any, results: Any) -> None:
    """A pool process: run tasks until told to stop (None)."""
    while (task := tasks.get()) is not None:
        fn, n, kwargs = task
        _call(fn, barriers[n], results, index, kwargs)


def _collect(results: Any, n: int, deadline: float, what: str) -> list[Any]:
    values: dict[int, Any] = {}
    errors: list[str] = []
    for _ in range(n):
        try:
            index, ok, value = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"{what}: only {len(values) + len(errors)} of {n} workers reported in time")
        if ok:
            values[index] = value
        else:
            errors.append(f"worker {index}:\n{value}")
    if errors:
        pytest.fail(f"{what}: {len(errors)} worker(s) failed:\n" + "\n".join(errors))
    return [values[i] for i in range(n)]


class ProcessPool:
    """``size`` spawned OS processes, started once and reused by many runs.

    Spawning a process and importing the server into it costs about a second of CPU; a test
    run would pay that for every worker of every test. Workers keep no state between runs:
    each task builds its own context and disposes of it. Each run of ``n`` workers (one of
    ``sizes``) uses the first ``n`` processes and a barrier of ``n`` made at spawn time.
    """

    def __init__(self, size: int, sizes: tuple[int, ...] = ()) -> None:
        self.size = size
        self.sizes = tuple(sorted({size, *sizes}))
        self._procs: list[Any] = []

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self._barriers = {n: ctx.Barrier(n) for n in self.sizes}
        self._tasks = [ctx.Queue() for _ in range(self.size)]
        self._results = ctx.Queue()
        self._procs = [
            ctx.Process(
                target=_serve,
                args=(i, self._barriers, self._tasks[i], self._results),
                daemon=True,
                name=f"system-test-worker-{i}",
            )
            for i in range(self.size)
        ]
        for p in self._procs:
            p.start()

    def run(
        self,
        fn: Worker,
        n: int | None = None,
        *,
        timeout: float = 150.0,
        per_worker: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """Run ``fn`` in ``n`` processes at once; returns their results in worker order."""
        n = n or self.size
        assert n in self.sizes, f"this pool has barriers for {self.sizes} workers, not {n}"
        if not self._procs or not all(p.is_alive() for p in self._procs):
            self.close()
            self._start()
        for i in range(n):
            args = dict(kwargs) | (per_worker[i] if per_worker else {})
            self._tasks[i].put((fn, n, args))
        try:
            return _collect(
                self._results, n, time.monotonic() + timeout, f"{fn.__name__} in {n} processes"
            )
        except BaseException:
            self.close()  # a broken barrier or a stuck worker: start afresh next time
            raise

    def close(self) -> None:
        if not self._procs:
            return
        for i, p in enumerate(self._procs):
            if p.is_alive():
                self._tasks[i].put(None)
        for p in self._procs:
            p.join(10)
        for p in self._procs:
            if p.is_alive():  # only our own children, each by its handle
                p.terminate()
                p.join(5)
        self._procs = []


def run_threads(
    fn: Worker,
    n: int,
    *,
    timeout: float = 150.0,
    per_worker: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Run ``fn`` in ``n`` threads of this process; returns their results in worker order."""
    barrier = threading.Barrier(n)
    results: queue.Queue[Any] = queue.Queue()
    threads = []
    for i in range(n):
        args = dict(kwargs) | (per_worker[i] if per_worker else {})
        threads.append(
            threading.Thread(
                target=_call, args=(fn, barrier, results, i, args), daemon=True, name=f"w{i}"
            )
        )
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    values = _collect(results, n, deadline, f"{fn.__name__} in {n} threads")
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "worker threads did not finish"
    return values


def run_thread_rounds(
    fn: Callable[[int, int], Any],
    n: int,
    before_round: list[Callable[[], None]],
    *,
    timeout: float = BARRIER_TIMEOUT_S,
) -> list[list[Any]]:
    """Run ``n`` threads in lockstep rounds; this thread runs ``before_round[r]`` between them.

    Round ``r`` starts only when ``before_round[r]`` has returned and every worker is ready, and
    ends when every worker's ``fn(index, r)`` has returned: nothing a worker does overlaps what
    the driving thread does (moving a clock, staff actions), so the interleaving of the two is
    fixed while the workers still race each other inside a round. Returns results[worker][round].
    """
    go = threading.Barrier(n + 1)
    done = threading.Barrier(n + 1)
    results: list[list[Any]] = [[] for _ in range(n)]
    errors: list[str] = []

    def work(index: int) -> None:
        try:
            for r in range(len(before_round)):
                go.wait(timeout)
                results[index].append(fn(index, r))
                done.wait(timeout)
        except threading.BrokenBarrierError:
            return
        except BaseException:
            errors.append(f"worker {index}:\n{traceback.format_exc()}")
            go.abort()
            done.abort()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    broken = False
    try:
        for setup in before_round:
            setup()
            go.wait(timeout)
            done.wait(timeout)
    except threading.BrokenBarrierError:
        broken = True
    except BaseException:
        go.abort()
        done.abort()
        raise
    finally:
        for t in threads:
            t.join(timeout)
    if errors:
        pytest.fail("round workers failed:\n" + "\n".join(errors))
    if broken:
        pytest.fail(f"a round did not finish within {timeout} s")
    assert not any(t.is_alive() for t in threads), "round workers did not finish"
    return results
