"""Scoring recordings and rescoring stored transcripts: what the CLI and the workers call."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from qa_service.app.batches import Evaluator, pool_size, scorer_for
from qa_service.app.evaluations import record_evaluation_ids, stored
from qa_service.app.rescoring import rescore_scope
from qa_service.asr.audio import AUDIO_EXTENSIONS, load
from qa_service.asr.transcribe import Recognizer, get_recognizer
from qa_service.asr.transcript import transcribe_audio
from qa_service.config import Settings, get_settings
from qa_service.domain.evaluation import CallEvaluation, FileError
from qa_service.domain.masking import mask
from qa_service.domain.metadata import read_metadata
from qa_service.domain.results import CallResult
from qa_service.exceptions import AudioError, MetadataError, ModelIntegrityError
from qa_service.files import sha256_of
from qa_service.i18n import message
from qa_service.rules.rubric import Rubric
from qa_service.rules.scoring import Scorer, evaluate, prepared_texts
from qa_service.rules.semantic import CallVectors, embed_utterances, get_embedder
from qa_service.storage.repositories.recordings import RescoreTarget
from qa_service.storage.store import Store

log = logging.getLogger(__name__)


def find_audio(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given, and audio files under directories (recursive, sorted)."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS
            )
        else:
            yield p


@dataclass
class Outcome:
    """One file's result: the spec's result dict (or its error) plus what we stored."""

    path: str
    result: CallResult | None = None
    error: str | None = None
    transcribed: bool = False  # False when a stored transcript was reused

    def to_dict(self) -> dict:
        """The JSON the CLI prints: the API's evaluation model, or the spec's error entry."""
        if self.result is None:
            return FileError(recording=self.path, error=self.error or "").model_dump()
        return CallEvaluation.of_result(self.result).to_json()


class QAService:
    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        recognizer: Recognizer | None = None,
    ):
        self.store = store
        self.settings = settings or get_settings()
        self._recognizer = recognizer

    @property
    def recognizer(self) -> Recognizer:
        # Loaded on first need: rescoring never pays for the model.
        if self._recognizer is None:
            self._recognizer = get_recognizer(self.settings)
        return self._recognizer

    def scorer(self, rubric: Rubric) -> Scorer:
        return scorer_for(rubric, self.settings)

    def embed(self, utterances: list) -> CallVectors:
        """Sentence vectors of a transcript, rows owned by utterances in the order given (the
        stored order); stored with the transcript (semantic.py)."""
        return embed_utterances(
            get_embedder(self.settings.similar_model), [u.text for u in utterances]
        )

    def score_file(
        self,
        path: str | Path,
        rubric: Rubric,
        scorer: Scorer | None = None,
        agent_channel: str | None = None,
    ) -> Outcome:
        path = str(path)
        try:
            return self._score_file(path, rubric, scorer or self.scorer(rubric), agent_channel)
        except (AudioError, MetadataError, ModelIntegrityError) as exc:
            return Outcome(path, error=str(exc))
        except OSError as exc:
            return Outcome(path, error=f"{path}: {exc.strerror or exc}")  # the system's words

    def _score_file(
        self, path: str, rubric: Rubric, scorer: Scorer, agent_channel: str | None
    ) -> Outcome:
        file = self.settings.locate(path)  # `path` is what is stored: relative to the storage
        if not file.is_file():
            raise AudioError(message("{path}: no such file", path=path))
        meta = read_metadata(file)
        sha = sha256_of(file)
        known = self.store.recordings.by_sha(sha)
        transcribed = False
        if known is not None and self.store.recordings.has_transcript(known.id):
            # The same audio again: reuse its transcript, only the metadata may be new.
            self.store.recordings.update_metadata(known.id, meta)
            recording = known
            utterances, duration = self.store.recordings.utterances(known.id), known.duration
            warnings = list(known.asr_warnings)
            vectors = self.store.recordings.vectors_of([known.id]).get(known.id)
            texts = self.store.recordings.texts_of([known.id]).get(known.id, [])
        else:
            audio = load(str(file), self.settings.max_audio_minutes)
            transcript = transcribe_audio(audio, self.recognizer, rubric, agent_channel)
            if self.settings.mask_stored_text:
                # Personal numbers never reach the database; checks run on the masked text too.
                transcript.utterances = [
                    replace(u, text=mask(u.text)) for u in transcript.utterances
                ]
            recording = self.store.recordings.save_transcript(
                sha,
                path,
                meta,
                transcript.duration,
                transcript.channels,
                transcript.separation,
                self.recognizer.info.model,
                transcript.utterances,
                transcript.warnings,
            )
            utterances, duration = transcript.utterances, transcript.duration
            warnings = transcript.warnings
            vectors = None
            if self.settings.embed_transcripts and utterances:
                vectors = self.embed(utterances)
                self.store.recordings.save_vectors({recording.id: vectors})
            texts = prepared_texts(utterances)
            if texts:
                self.store.recordings.save_texts({recording.id: texts})
            transcribed = True
        result = evaluate(path, utterances, duration, scorer, vectors, warnings, texts)
        (evaluation_id,) = record_evaluation_ids(self.store, [(recording.id, result)])
        return Outcome(path, stored(result, recording, evaluation_id), transcribed=transcribed)

    def score_files(
        self,
        paths: Iterable[str | Path],
        rubric: Rubric,
        agent_channel: str | None = None,
        progress: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        scorer = self.scorer(rubric)
        out = []
        for path in paths:
            outcome = self.score_file(path, rubric, scorer, agent_channel)
            out.append(outcome)
            if progress:
                progress(outcome)
        return out

    def rescore(
        self,
        rubric: Rubric,
        project: str | None = None,
        progress: Callable[[Outcome], None] | None = None,
        batch: int = 500,
    ) -> list[Outcome]:
        """Score stored transcripts with this rubric, no recognition: a project's, or without
        one those rescore_scope chooses (already evaluated with it, or of projects
        where it is active). Many calls are evaluated and stored by a pool of processes
        (app/batches.py); this one reports them, in order, as they are stored."""
        targets, scope = rescore_scope(self.store, rubric.id, project)
        log.info("rescoring with %s v%d: %s", rubric.id, rubric.version, scope)
        workers = pool_size(self.settings, self.store.url, len(targets))
        out: list[Outcome] = []
        with Evaluator(self.store, self.settings, rubric, workers) as evaluator:
            pending: deque[tuple[list[RescoreTarget], Callable[[], list[CallResult]]]] = deque()
            for first in range(0, len(targets), batch):
                chunk = targets[first : first + batch]
                pending.append((chunk, evaluator.submit(chunk)))
                if len(pending) >= evaluator.depth:
                    out += self._record(*pending.popleft(), progress)
            while pending:
                out += self._record(*pending.popleft(), progress)
        return out

    def _record(
        self,
        chunk: list[RescoreTarget],
        results: Callable[[], list[CallResult]],
        progress: Callable[[Outcome], None] | None,
    ) -> list[Outcome]:
        out = []
        for target, result in zip(chunk, results(), strict=True):
            outcome = Outcome(target.source_path, result)
            out.append(outcome)
            if progress:
                progress(outcome)
        return out
