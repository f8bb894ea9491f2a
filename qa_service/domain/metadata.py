"""Call metadata (agent, project, call time, phase) for a recording.

From a sidecar JSON next to the audio (`call.wav` -> `call.json` or `call.wav.json`):
    {"agent_id": "A017", "project": "telecom-upgrade", "call_time": "2026-11-20T09:14:03",
     "phase": "trial"}
or else from the file name: `<project>_<agent>_<YYYYmmdd-HHMMSS>[_trial|_production].<ext>`,
e.g. `telecom-upgrade_A017_20261120-091403_trial.wav`. The sidecar wins where both say.
A call time without an offset (every file name) is the call center's time (QA_TIMEZONE).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from qa_service.config import storable_utc
from qa_service.domain.enums import Phase
from qa_service.domain.identifiers import identifier_problem
from qa_service.exceptions import MetadataError
from qa_service.i18n import codes, message

NAME_PATTERN = re.compile(
    r"^(?P<project>[A-Za-z0-9\-]+)_(?P<agent>[A-Za-z0-9\-]+)_(?P<time>\d{8}-?\d{6})"
    r"(?:_(?P<phase>trial|production))?$"
)


@dataclass
class CallMetadata:
    agent_id: str | None = None
    project: str | None = None
    # As the sidecar or file name says it: naive is the call center's wall-clock time
    # (QA_TIMEZONE), with an offset that instant. Stored in UTC (Store, config.to_utc).
    call_time: datetime | None = None
    phase: Phase = Phase.PRODUCTION


def _parse_time(value: str, source: str) -> datetime:
    for fmt in ("%Y%m%d-%H%M%S", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MetadataError(
            message(
                "{source}: {field} {value} is not an ISO date-time",
                source=source,
                field="call_time",
                value=repr(value),
            )
        ) from None
    # Kept as written: with its offset, or naive (the call center's wall-clock time); the
    # store converts it to UTC (config.to_utc), never by the server's own zone. A time that
    # would not survive that (or being shown in the call center's zone) is refused here.
    try:
        storable_utc(parsed)
    except ValueError:
        raise MetadataError(
            message(
                "{source}: {field} {value} is out of range",
                source=source,
                field="call_time",
                value=repr(value),
            )
        ) from None
    return parsed


def sidecar_path(audio: Path) -> Path | None:
    for candidate in (audio.with_suffix(".json"), audio.with_name(audio.name + ".json")):
        if candidate.exists() and not candidate.name.endswith(".ref.json"):
            return candidate
    return None


def read_metadata(audio_path: str | Path) -> CallMetadata:
    audio = Path(audio_path)
    meta = CallMetadata()
    m = NAME_PATTERN.match(audio.stem)
    if m:
        meta.project, meta.agent_id = m.group("project"), m.group("agent")
        meta.call_time = _parse_time(m.group("time"), str(audio))
        meta.phase = Phase(m.group("phase") or Phase.PRODUCTION)
    side = sidecar_path(audio)
    if side is not None:
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MetadataError(
                message("{path}: not readable JSON ({reason})", path=side, reason=exc)
            ) from None
        if not isinstance(data, dict):
            raise MetadataError(message("{path}: expected a JSON object", path=side))
        if data.get("agent_id") is not None:
            meta.agent_id = str(data["agent_id"])
        if data.get("project") is not None:
            meta.project = str(data["project"])
        if data.get("call_time"):
            meta.call_time = _parse_time(str(data["call_time"]), str(side))
        if data.get("phase"):
            phase = str(data["phase"])
            if phase not in Phase.values():
                raise MetadataError(
                    message(
                        "{path}: {field} {value} must be one of {allowed}",
                        path=audio,
                        field="phase",
                        value=repr(phase),
                        allowed=codes(Phase.values()),
                    )
                )
            meta.phase = Phase(phase)
    for field in ("agent_id", "project"):
        value = getattr(meta, field)
        problem = identifier_problem(value) if value else None  # "": not given
        if problem is not None:
            raise MetadataError(f"{side or audio}: {field} {problem}")
    return meta
