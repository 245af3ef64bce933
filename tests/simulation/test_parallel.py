"""Chunked execution: seeds, ordering and identical results on 1 worker, 2 workers and Dask."""

from __future__ import annotations

import numpy as np
import pytest

from l1ml.errors import L1MLError
from l1ml.simulation.parallel import Chunk, chunk_seed, make_chunks, map_chunks


def _draw(chunk: Chunk) -> np.ndarray:
    """A seeded random draw whose length encodes the chunk size (module-level, so it pickles)."""
    return np.random.default_rng(chunk.seed).normal(size=chunk.n_events) + chunk.index


def _fail_on_two(chunk: Chunk) -> int:
    if chunk.index == 2:
        raise ValueError("chunk two is broken")
    return chunk.index


def test_chunks_cover_all_events_with_distinct_seeds() -> None:
    chunks = make_chunks(103, master_seed=5, chunk_size=10)
    assert [c.index for c in chunks] == list(range(11))
    assert sum(c.n_events for c in chunks) == 103
    assert chunks[-1].n_events == 3
    assert all(c.start == 10 * c.index for c in chunks)
    assert len({c.seed for c in chunks}) == len(chunks)
    # A chunk's seed depends on (master seed, index) only, not on how many chunks there are.
    assert make_chunks(20, 5, 10)[1].seed == chunks[1].seed == chunk_seed(5, 1)
    assert make_chunks(20, 6, 10)[1].seed != chunks[1].seed


@pytest.mark.parametrize("bad", [(0, 1, 10), (10, -1, 5), (10, 1, 0)])
def test_bad_chunking_is_a_user_error(bad: tuple[int, int, int]) -> None:
    with pytest.raises(L1MLError):
        make_chunks(*bad)


def test_results_identical_and_in_order_for_any_worker_count() -> None:
    chunks = make_chunks(50, master_seed=3, chunk_size=7)
    inline = map_chunks(_draw, chunks, workers=1, progress=False)
    pooled = map_chunks(_draw, chunks, workers=2, progress=True)
    assert len(inline) == len(pooled) == len(chunks)
    for a, b, c in zip(inline, pooled, chunks, strict=True):
        assert len(a) == c.n_events
        np.testing.assert_array_equal(a, b)


def test_worker_errors_propagate() -> None:
    chunks = make_chunks(40, 1, 10)
    with pytest.raises(ValueError, match="chunk two"):
        map_chunks(_fail_on_two, chunks, workers=2, progress=False)
    with pytest.raises(L1MLError, match="workers"):
        map_chunks(_draw, chunks, workers=0, progress=False)
    assert map_chunks(_draw, [], workers=2) == []


def test_dask_cluster_gives_the_local_results() -> None:
    from distributed import LocalCluster

    chunks = make_chunks(30, master_seed=9, chunk_size=4)
    local = map_chunks(_draw, chunks, workers=1, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = map_chunks(_draw, chunks, scheduler=cluster.scheduler_address, progress=False)
    for a, b in zip(local, remote, strict=True):
        np.testing.assert_array_equal(a, b)


def test_unreachable_scheduler_is_a_user_error() -> None:
    with pytest.raises(L1MLError, match="Dask scheduler"):
        map_chunks(_draw, make_chunks(4, 1, 2), scheduler="tcp://127.0.0.1:9", progress=False)
