"""Calibration sessions (校准): reviewers judge the same calls blind; agreement follows."""

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import Field, StrictBool
from sqlmodel import select

from qa_service.api.deps import Manager, Reviewer, StoreDep
from qa_service.app.people import Caller, active_reviewer
from qa_service.domain.enums import KeyRole
from qa_service.domain.schema import MAX_ROW_ID, Instant, Schema
from qa_service.exceptions import CalibrationError, CalibrationNotFound
from qa_service.i18n import message
from qa_service.review import calibration
from qa_service.storage.callrefs import NamesACall, name_calls
from qa_service.storage.repositories.rubrics import rubric_title
from qa_service.storage.tables import CalibrationScore, CalibrationSession, Evaluation

router = APIRouter(prefix="/calibrations", tags=["calibration"])
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


class CalibrationIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    evaluation_ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(
        min_length=1, max_length=200
    )
    reviewers: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=2, max_length=50
    )
    hide_machine: StrictBool = True


class CalibrationItem(Schema):
    rule_id: str
    """A rule of the call's rubric version, or "grade"."""
    name: str | None = None
    """The rule's name in that version."""
    allowed: list[str]
    mine: str | None = None
    machine: str | None = None
    """The machine's value (absent while the session hides it)."""


class CalibrationCall(NamesACall):
    evaluation_id: int
    agent_id: str | None = None
    items: list[CalibrationItem]


class CalibrationOut(Schema):
    id: int
    name: str
    rubric_id: str
    rubric_name: str | None = None
    """The rubric's title (what people call it) in its newest version among the calls'; None
    where that version is not stored."""
    rubric_versions: list[int] = []
    """The rubric versions the session's calls were scored with, oldest first."""
    hide_machine: bool
    state: str
    reviewers: list[str]
    evaluation_ids: list[int]
    created_by: str
    created_at: Instant
    closed_at: Instant | None = None
    applied: bool
    calls: list[CalibrationCall] = []
    """For a reviewer taking part while it is open: the items to judge and their own values."""


class AgreementOut(Schema):
    items: int
    percent: float | None
    """Share of the items judged by two or more on which every reviewer agreed."""
    alpha: float | None
    """Krippendorff's alpha, nominal."""


class CalibrationReport(Schema):
    overall: AgreementOut
    per_rule: dict[str, AgreementOut]
    deviation: dict[str, float | None]
    """Per reviewer: the share of the items with a consensus they judged otherwise."""
    machine: float | None
    """The share of the items with a consensus on which the machine said it."""
    progress: dict[str, int]
    """Per reviewer: items judged."""
    consensus: list[dict]
    rule_names: dict[str, str] = {}
    """Each rule's name in the calls' rubric version (per_rule's keys are rule ids)."""
    rule_order: list[str] = []
    """per_rule's keys in the rubric's order, the grade last."""


class ScoresIn(Schema):
    evaluation_id: int = Field(ge=1, le=MAX_ROW_ID)
    values: dict[str, str] = Field(min_length=1, max_length=500)


class CloseIn(Schema):
    apply: StrictBool = False
    """Apply the consensus as reviews of those calls."""


class Closed(Schema):
    session: CalibrationOut
    reviews: int
    """Reviews made from the consensus (apply=true)."""


def _may_see(cal: CalibrationSession, who: Caller) -> None:
    if who.shown not in cal.reviewers and not who.can(KeyRole.MANAGER):
        raise CalibrationNotFound(message("no calibration session {id}", id=cal.id))


def _named(s, cal: CalibrationSession) -> CalibrationOut:
    """The session with its rubric's title and its calls' versions."""
    versions = sorted(
        set(
            s.exec(
                select(Evaluation.rubric_version).where(Evaluation.id.in_(cal.evaluation_ids))
            ).all()
        )
    )
    name = rubric_title(s, cal.rubric_id, versions[-1]) if versions else None
    out = CalibrationOut.model_validate(cal)
    return out.model_copy(update={"rubric_name": name, "rubric_versions": versions})


def _out(s, cal: CalibrationSession, who: Caller) -> CalibrationOut:
    out = _named(s, cal)
    if cal.state != "open" or who.shown not in cal.reviewers:
        return out
    mine = {
        (r.evaluation_id, r.rule_id): r.value
        for r in s.exec(
            select(CalibrationScore).where(
                CalibrationScore.session_id == cal.id, CalibrationScore.reviewer == who.shown
            )
        ).all()
    }
    calls = []
    for ev_id in cal.evaluation_ids:
        ev = s.get(Evaluation, ev_id)
        if ev is None:
            continue
        machine = {} if cal.hide_machine else calibration.machine_values(s, ev)
        names = calibration.names_of(s, ev)
        calls.append(
            CalibrationCall(
                evaluation_id=ev.id,
                recording_id=ev.recording_id,
                agent_id=ev.agent_id,
                items=[
                    CalibrationItem(
                        rule_id=item,
                        name=names.get(item),
                        allowed=allowed,
                        mine=mine.get((ev.id, item)),
                        machine=machine.get(item),
                    )
                    for item, allowed in calibration.items_of(s, ev).items()
                ],
            )
        )
    return out.model_copy(update={"calls": name_calls(s, calls)})


@router.post("", status_code=201, response_model=CalibrationOut)
def create(body: CalibrationIn, store: StoreDep, who: Manager) -> CalibrationOut:
    for name in body.reviewers:
        if active_reviewer(store, name) is None:
            raise CalibrationError(message("{name} is no active reviewer", name=repr(name)))
    with store.session() as s:
        cal = calibration.create(
            s, body.name, body.evaluation_ids, body.reviewers, body.hide_machine, who.shown
        )
        s.commit()
        return _out(s, cal, who)


@router.get("", response_model=list[CalibrationOut])
def list_sessions(store: StoreDep, who: Reviewer) -> list[CalibrationOut]:
    with store.session() as s:
        rows = s.exec(select(CalibrationSession).order_by(CalibrationSession.id.desc())).all()
        return [_named(s, c) for c in rows if who.shown in c.reviewers or who.can(KeyRole.MANAGER)]


@router.get("/{session_id}", response_model=CalibrationOut)
def get(session_id: RowId, store: StoreDep, who: Reviewer) -> CalibrationOut:
    """A participant sees the calls' items and their own values only (blind)."""
    with store.session() as s:
        cal = calibration.get_session(s, session_id)
        _may_see(cal, who)
        return _out(s, cal, who)


@router.put("/{session_id}/scores", response_model=CalibrationOut)
def put_scores(session_id: RowId, body: ScoresIn, store: StoreDep, who: Reviewer) -> CalibrationOut:
    with store.session() as s:
        calibration.score(s, session_id, who.shown, body.evaluation_id, body.values)
        s.commit()
        return _out(s, calibration.get_session(s, session_id), who)


@router.get("/{session_id}/report", response_model=CalibrationReport)
def report(session_id: RowId, store: StoreDep, who: Reviewer) -> CalibrationReport:
    """Agreement per rule and overall, each reviewer's deviation from the consensus, the
    machine against the consensus. Participants see it once the session is closed."""
    with store.session() as s:
        cal = calibration.get_session(s, session_id)
        _may_see(cal, who)
        if cal.state == "open" and not who.can(KeyRole.MANAGER):
            raise CalibrationError(
                message("the session is open: its agreement shows once it is closed")
            )
        rep = calibration.report(s, session_id)
        names: dict[str, str] = {}
        for ev_id in cal.evaluation_ids:
            if (ev := s.get(Evaluation, ev_id)) is not None:
                names |= calibration.names_of(s, ev)
        # the rubric's order (names_of follows it), the grade and any rule it lacks after
        place = {rule: n for n, rule in enumerate(names)}
        order = sorted(rep.per_rule, key=lambda k: (place.get(k, len(place)), k))
        return CalibrationReport(
            rule_names=names,
            rule_order=order,
            overall=AgreementOut(**vars(rep.overall)),
            per_rule={k: AgreementOut(**vars(rep.per_rule[k])) for k in order},
            deviation=rep.deviation,
            machine=rep.machine,
            progress=rep.progress,
            consensus=[
                {"evaluation_id": e, "rule_id": item, "value": v}
                for (e, item), v in sorted(rep.consensus.items())
            ],
        )


@router.post("/{session_id}/close", response_model=Closed)
def close(
    session_id: RowId,
    store: StoreDep,
    who: Manager,
    body: CloseIn,
) -> Closed:
    """Close the session; `apply`: its consensus becomes the reviews of those calls."""
    with store.session() as s:
        try:
            cal, made = calibration.close(s, session_id, body.apply)
        except Exception:
            s.rollback()
            raise
        s.commit()
        return Closed(session=_out(s, cal, who), reviews=made)
