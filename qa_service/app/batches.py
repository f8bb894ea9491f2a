"""Stored transcripts evaluated and stored again in batches, for a rescore: in this process,
or in a pool of processes when there are many calls and cores to spare
(Settings.rescore_workers).

Each process reads its calls' utterances and sentence vectors from the database itself
(embedding and storing the vectors a transcript lacks), evaluates them with its own Scorer of
the rubric, and, on a server database, stores the results itself, one transaction per chunk
of calls: only recording ids travel to a worker and stored results back. On SQLite, where two
writers would lock each other out, this process stores what the workers evaluated, in order,
one batch while the next is evaluated."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from qa_service.app.evaluations import record_evaluation_ids, stored
from qa_service.config import RESCORE_POOL_CHUNK, RESCORE_POOL_MIN_CALLS, Settings
from qa_service.domain.results import CallResult
from qa_service.rules.rubric import Rubric
from qa_service.rules.scoring import Scorer, evaluate, prepared_texts
from qa_service.rules.semantic import embed_utterances, get_embedder, vector_kind
from qa_service.storage.repositories.recordings import RescoreTarget
from qa_service.storage.store import Store


def scorer_for(rubric: Rubric, settings: Settings) -> Scorer:
    return Scorer(
        rubric,
        settings.fuzzy,
        settings.similar_threshold,
        model=settings.similar_model,
    )


def evaluate_stored(
    store: Store,
    settings: Settings,
    scorer: Scorer,
    targets: list[RescoreTarget],
    writes: bool = True,
) -> list[CallResult]:
    """The results of these stored calls under the scorer's rubric, in order; the prepared
    texts the calls lack are stored only where this process `writes` (not a pool's worker on
    SQLite, which takes one writer at a time)."""
    ids = [t.id for t in targets]
    utterances = store.recordings.utterances_of(ids)
    vectors = store.recordings.vectors_of(ids) if scorer.uses_similarity else {}
    if scorer.uses_similarity:
        # Transcripts stored before vectors were (or by another model, or cut into other
        # segments): embed them once.
        kind = vector_kind(settings.similar_model)
        stale = {
            i: embed_utterances(
                get_embedder(settings.similar_model), [u.text for u in utterances[i]]
            )
            for i in ids
            if utterances[i] and (i not in vectors or vectors[i].model != kind)
        }
        if stale:
            store.recordings.save_vectors(stale)
            vectors.update(stale)
    # Prepared texts as stored with the transcripts; those stored before them (or of another
    # form) are prepared here, as evaluating would, and stored for the next rescore.
    texts = store.recordings.texts_of(ids)
    missing = {
        i: prepared_texts(utterances[i])
        for i in ids
        if utterances[i] and len(texts.get(i, ())) != len(utterances[i])
    }
    if missing and writes:
        store.recordings.save_texts(missing)
    texts.update(missing)
    return [
        evaluate(
            t.source_path,
            utterances[t.id],
            t.duration,
            scorer,
            vectors.get(t.id),
            t.asr_warnings,
            texts.get(t.id, ()),
        )
        for t in targets
    ]


def record_stored(
    store: Store, targets: list[RescoreTarget], results: list[CallResult]
) -> list[CallResult]:
    """Store these calls' results in one transaction; the results with their ids."""
    ids = record_evaluation_ids(store, [(t.id, r) for t, r in zip(targets, results)])
    return [stored(r, t, ev_id) for t, r, ev_id in zip(targets, results, ids, strict=True)]


def pool_size(settings: Settings, url: str, calls: int) -> int:
    """Processes to evaluate a rescore of `calls` calls with: Settings.rescore_workers, or
    when it is 0 one per core once the calls are RESCORE_POOL_MIN_CALLS or more (a worker
    loads the sentence model first: fewer calls are done sooner in this process). An
    in-memory database has no second process to read it."""
    if ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:"):
        return 1
    if settings.rescore_workers:
        return settings.rescore_workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) if calls >= RESCORE_POOL_MIN_CALLS else 1


# A worker process's store, settings and scorer (set once by _start).
_worker: tuple[Store, Settings, Scorer] | None = None


def _start(url: str, settings: Settings, rubric: Rubric) -> None:
    global _worker
    _worker = (Store(url, migrate=False), settings, scorer_for(rubric, settings))


def _run(targets: list[RescoreTarget], record: bool) -> list[CallResult]:
    assert _worker is not None, "the pool's initializer did not run"
    results = evaluate_stored(*_worker, targets, writes=record)
    return record_stored(_worker[0], targets, results) if record else results


def _context() -> multiprocessing.context.BaseContext:
    """Workers forked from a server process that imported the package once (a fork of this
    process would share its database connections; a process spawned afresh imports it all
    again, seconds per worker), else spawned."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__])
    return context


@dataclass
class Evaluator:
    """Evaluates and stores batches of stored calls: `submit(targets)` starts a batch and
    returns a function that waits for its stored results. With one process the batch is
    evaluated and stored at once."""

    store: Store
    settings: Settings
    rubric: Rubric
    workers: int = 1
    _scorer: Scorer | None = None
    _pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Evaluator:
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=_context(),
                initializer=_start,
                initargs=(self.store.url, self.settings, self.rubric),
            )
        else:
            self._scorer = scorer_for(self.rubric, self.settings)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    @property
    def depth(self) -> int:
        """Batches in flight: one being written while the next is evaluated, with a pool."""
        return 2 if self._pool is not None else 1

    def submit(self, targets: list[RescoreTarget]) -> Callable[[], list[CallResult]]:
        if self._pool is None:
            assert self._scorer is not None, "use the Evaluator as a context manager"
            results = evaluate_stored(self.store, self.settings, self._scorer, targets)
            done = record_stored(self.store, targets, results)
            return lambda: done
        # SQLite takes one writer at a time: this process writes there (workers_write).
        workers_write = self.store.engine.dialect.name != "sqlite"
        futures: list[Future[list[CallResult]]] = [
            self._pool.submit(_run, targets[i : i + RESCORE_POOL_CHUNK], workers_write)
            for i in range(0, len(targets), RESCORE_POOL_CHUNK)
        ]

        def wait() -> list[CallResult]:
            results = [r for f in futures for r in f.result()]
            return results if workers_write else record_stored(self.store, targets, results)

        return wait
