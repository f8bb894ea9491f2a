"""How people name a call in reports and pages: its agent and when it was made, not the
recording's row number (a reviewer knows "B001 · 11-01 10:05", not "#12"). A hand-made call
without a call time is named by its file name, else by when it was stored.

Report rows about one call carry `call` (NamesACall), rows with example calls carry
`example_calls` beside `example_recordings` (NamesCalls); `name_calls` fills both in over a
whole report with one query."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import Session, select

from qa_service.config import in_call_center_zone
from qa_service.domain.schema import Instant, Schema
from qa_service.i18n import _
from qa_service.storage.tables import Recording


class CallRef(Schema):
    """A call as people name it; the page links it to the call by `recording_id`."""

    recording_id: int
    agent_id: str | None = None
    call_time: Instant | None = None
    """When the call was made (None: a hand-made call stored without one)."""
    file_name: str | None = None
    """The recording's file name (its folders left out), only for a call without a call time."""
    stored_at: Instant
    """When the recording was stored (入库)."""


class NamesACall(Schema):
    """A report row about one call: `call` names it (name_calls)."""

    recording_id: int
    call: CallRef | None = None


class NamesCalls(Schema):
    """A report row with example calls: `example_calls` names them, in the same order."""

    example_recordings: list[int]
    example_calls: list[CallRef] = []


def call_refs(session: Session, recording_ids: Iterable[int]) -> dict[int, CallRef]:
    ids = sorted(set(recording_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(
            Recording.id,
            Recording.agent_id,
            Recording.call_time,
            Recording.source_path,
            Recording.created_at,
        ).where(Recording.id.in_(ids))
    ).all()
    return {
        rid: CallRef(
            recording_id=rid,
            agent_id=agent_id or None,
            call_time=call_time,
            file_name=None if call_time else PurePath(path).name or None,
            stored_at=stored,
        )
        for rid, agent_id, call_time, path, stored in rows
    }


def call_name(ref: CallRef | None, recording_id: int) -> str:
    """A call as "B001 · 11-01 10:05" (the page's QA.callName says it the same way); a call
    without a call time by its file name or when it was stored, so labelled; #id for a call
    not found."""
    if ref is None:
        return f"#{recording_id}"
    if ref.call_time is not None:
        when = in_call_center_zone(ref.call_time).strftime("%m-%d %H:%M")
    elif ref.file_name:
        when = _("file {name}", name=ref.file_name)
    else:
        when = _("stored {time}", time=in_call_center_zone(ref.stored_at).strftime("%m-%d %H:%M"))
    return f"{ref.agent_id or '—'} · {when}"


def _rows(value: Any, out: list[BaseModel]) -> None:
    if isinstance(value, BaseModel):
        out.append(value)
        for name in type(value).model_fields:
            _rows(getattr(value, name), out)
    elif isinstance(value, list | tuple):
        for item in value:
            _rows(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            _rows(item, out)


T = TypeVar("T")


def name_calls(session: Session, report: T) -> T:
    """The report (a model, or a list of them) with every call it names named: `call` of each
    NamesACall row, `example_calls` of each NamesCalls row, wherever they sit in it."""
    rows: list[BaseModel] = []
    _rows(report, rows)
    wanted: set[int] = set()
    for row in rows:
        if isinstance(row, NamesACall):
            wanted.add(row.recording_id)
        elif isinstance(row, NamesCalls):
            wanted.update(row.example_recordings)
    refs = call_refs(session, wanted)
    for row in rows:
        if isinstance(row, NamesACall):
            row.call = refs.get(row.recording_id)
        elif isinstance(row, NamesCalls):
            row.example_calls = [refs[r] for r in row.example_recordings if r in refs]
    return report
