"""Audio -> transcript: each channel (or each voice of a mono call) recognized and turned into
timed utterances by role. This is the expensive half of scoring a call; `rules.scoring.evaluate`
is the cheap half and runs again on stored utterances whenever a rubric changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qa_service.asr.audio import Audio, load
from qa_service.asr.crosstalk import mostly_leak, separate
from qa_service.asr.diarize import RoleCues, assign_roles
from qa_service.asr.transcribe import MONO_VAD_OPTIONS, VAD_OPTIONS, Recognizer
from qa_service.domain.enums import Role
from qa_service.domain.results import Utterance
from qa_service.rules.matching import PhraseMatcher
from qa_service.rules.normalize import respell_hotwords, to_simplified
from qa_service.rules.rubric import Rubric

log = logging.getLogger(__name__)


@dataclass
class Transcript:
    utterances: list[Utterance]
    duration: float
    channels: int  # channels in the file
    separation: str  # stereo: roles by channel | mono: roles by clustering (diarize.py)
    # Where recognition may have lost words (Recognized.warnings): the utterances there carry
    # a low confidence, so the call is flagged for a person.
    warnings: list[str] = field(default_factory=list)


def role_cues(rubric: Rubric) -> RoleCues:
    agent_lines = rubric.agent_phrases()
    customer_lines = [p for o in rubric.objections for p in o.customer_says]
    customer_lines += rubric.outcome.success + rubric.outcome.refusal
    return RoleCues(
        PhraseMatcher(any=agent_lines, fuzzy=1.0), PhraseMatcher(any=customer_lines, fuzzy=1.0)
    )


def join_same_speaker(utterances: list[Utterance]) -> list[Utterance]:
    """Join consecutive utterances of one speaker separated by less silence than ends a
    chunk on a stereo channel, so mono and stereo calls have utterances of the same kind."""
    joined: list[Utterance] = []
    max_gap = VAD_OPTIONS.min_silence_duration_ms / 1000
    for u in utterances:
        last = joined[-1] if joined else None
        if last and last.role == u.role and u.start - last.end < max_gap:
            weights = last.duration, u.duration
            confidence = (last.confidence * weights[0] + u.confidence * weights[1]) / (
                sum(weights) or 1.0
            )
            joined[-1] = Utterance(u.role, last.start, u.end, f"{last.text} {u.text}", confidence)
        else:
            joined.append(u)
    return joined


def _same_signal(left: np.ndarray, right: np.ndarray) -> bool:
    """A 'stereo' file that carries one mixed signal twice is a mono recording."""
    step = max(1, len(left) // 50000)
    return bool(np.allclose(left[::step], right[::step], atol=1e-3))


def transcribe_audio(
    audio: Audio, recognizer: Recognizer, rubric: Rubric, agent_channel: str | None = None
) -> Transcript:
    hotwords, script = rubric.asr.hotwords, rubric.script_terms()

    def displayed(text: str) -> str:
        return respell_hotwords(to_simplified(text), hotwords)

    utterances: list[Utterance] = []
    if len(audio.channels) == 2 and not _same_signal(*audio.channels):
        agent_side = agent_channel or rubric.agent_channel
        roles: Sequence[Role] = (
            (Role.AGENT, Role.CUSTOMER) if agent_side == "left" else (Role.CUSTOMER, Role.AGENT)
        )
        left, right = audio.channels
        *cleaned, notes = separate(left, right)
        for note in notes:
            log.info("%s: %s", audio.path, note)
        streams = []
        for samples, original in zip(cleaned, audio.channels):
            chunks = recognizer.speech_chunks(samples)
            if samples is not original:
                chunks = [c for c in chunks if not mostly_leak(samples, original, c.start, c.end)]
            streams.append((samples, chunks))
        recognized = recognizer.transcribe_streams(
            streams, hotwords, [script if role == Role.AGENT else [] for role in roles]
        )
        for role, chunks in zip(roles, recognized.streams):
            for chunk in chunks:
                utterances.append(
                    Utterance(role, chunk.start, chunk.end, displayed(chunk.text), chunk.confidence)
                )
        separation = "stereo"
    else:
        samples = audio.channels[0]
        # One channel holds both speakers: the agent's script prompts all of it.
        recognized = recognizer.transcribe_channel(samples, [*hotwords, *script], MONO_VAD_OPTIONS)
        chunks = recognized.streams[0]
        roles = assign_roles(
            samples, [(c.start, c.end) for c in chunks], [c.text for c in chunks], role_cues(rubric)
        )
        utterances = join_same_speaker(
            [
                Utterance(role, c.start, c.end, displayed(c.text), c.confidence)
                for role, c in zip(roles, chunks)
            ]
        )
        separation = "mono"
    utterances.sort(key=lambda u: (u.start, u.end))
    for warning in recognized.warnings:
        log.warning("%s: %s", audio.path, warning)
    return Transcript(
        utterances, audio.duration, audio.source_channels, separation, recognized.warnings
    )


def transcribe_file(
    path: str, recognizer: Recognizer, rubric: Rubric, agent_channel: str | None = None
) -> Transcript:
    return transcribe_audio(load(path), recognizer, rubric, agent_channel)
