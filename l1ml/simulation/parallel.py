"""Run independent, seeded chunks of a simulation on a local process pool or a Dask cluster.

Outputs never depend on where or how many ways a job ran: each chunk carries its own seed, derived
from the master seed and the chunk index, and results come back in chunk order.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from l1ml.errors import L1MLError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Chunk:
    """One independent unit of work: events ``[start, start + n_events)`` generated from ``seed``."""

    index: int
    start: int
    n_events: int
    seed: int


def chunk_seed(master_seed: int, index: int) -> int:
    """A 31-bit seed for chunk ``index``, independent of how many chunks there are."""
    if master_seed < 0:
        raise L1MLError(f"seed {master_seed} is negative; use a seed >= 0")
    state = np.random.SeedSequence([master_seed, index]).generate_state(1, np.uint32)[0]
    return int(state) & 0x7FFFFFFF


def make_chunks(n_events: int, master_seed: int, chunk_size: int) -> list[Chunk]:
    """Split ``n_events`` into fixed-size chunks; the split depends only on the sizes, not on workers."""
    if n_events <= 0:
        raise L1MLError(f"number of events must be positive, got {n_events}")
    if chunk_size <= 0:
        raise L1MLError(f"chunk size must be positive, got {chunk_size}")
    return [
        Chunk(i, start, min(chunk_size, n_events - start), chunk_seed(master_seed, i))
        for i, start in enumerate(range(0, n_events, chunk_size))
    ]


def default_workers() -> int:
    """Cores this process may use (respects CPU affinity / container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def map_chunks(fn: Callable[[T], R], chunks: Sequence[T], workers: int | None = None,
               scheduler: str | None = None, progress: bool = True, description: str = "simulating"
               ) -> list[R]:
    """Apply ``fn`` to every chunk and return the results in chunk order.

    ``fn`` must be a module-level function (it is pickled by reference). With ``scheduler`` set to a
    Dask address such as ``tcp://host:8786`` the chunks run on that cluster; otherwise on a local
    process pool of ``workers`` processes (default: all available cores). ``workers=1`` runs in this
    process, which is handy for debugging.
    """
    if not chunks:
        return []
    fn = _SingleThreaded(fn)
    if scheduler is not None:
        return _map_dask(fn, chunks, scheduler, progress, description)
    n_workers = default_workers() if workers is None else workers
    if n_workers < 1:
        raise L1MLError(f"--workers must be at least 1, got {n_workers}")
    n_workers = min(n_workers, len(chunks))
    results: list[Any] = [None] * len(chunks)
    with _progress_bar(progress, description, len(chunks)) as advance:
        if n_workers == 1:
            for i, chunk in enumerate(chunks):
                results[i] = fn(chunk)
                advance()
            return results
        context = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool:
            futures = {pool.submit(fn, chunk): i for i, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                advance()
    return results


class _SingleThreaded:
    """Run a chunk function with BLAS/OpenMP pools limited to one thread.

    Chunks are the unit of parallelism; letting numpy's BLAS start its own threads in every worker
    oversubscribes the cores and made jet generation twice as slow.
    """

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn = fn

    def __call__(self, chunk: Any) -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return self.fn(chunk)


def _map_dask(fn: Callable[[T], R], chunks: Sequence[T], scheduler: str, progress: bool,
              description: str) -> list[R]:
    """``map_chunks`` on a running Dask cluster at ``scheduler``."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        _probe(scheduler)
        client = Client(scheduler, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise L1MLError(f"cannot connect to the Dask scheduler at {scheduler} ({exc}); start one with "
                        "`dask scheduler` and `dask worker <address>`, or drop --scheduler to run locally"
                        ) from exc
    try:
        # pure=False: identical arguments must still run (and seeds already make each chunk distinct).
        futures = client.map(fn, list(chunks), pure=False)
        order = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(chunks)
        with _progress_bar(progress, description + " on " + scheduler, len(chunks)) as advance:
            for future in dask_completed(futures, loop=client.loop):
                results[order[future.key]] = future.result()
                advance()
        return results
    finally:
        client.close()


def _probe(scheduler: str) -> None:
    """Fail fast (instead of after Dask's connect timeout) when nothing listens at a tcp:// address."""
    if not scheduler.startswith("tcp://"):
        return
    host, _, port = scheduler.removeprefix("tcp://").rpartition(":")
    if not port.isdigit():
        raise L1MLError(f"scheduler address {scheduler} has no port; use the form tcp://host:8786")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=10):
        pass


class _progress_bar:
    """Context manager yielding an ``advance()`` callable; a rich bar when ``enabled``."""

    def __init__(self, enabled: bool, description: str, total: int):
        self._enabled = enabled
        self._description = description
        self._total = total
        self._progress: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not self._enabled:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), transient=False)
        self._progress.__enter__()
        task = self._progress.add_task(self._description, total=self._total)
        return lambda: self._progress.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
