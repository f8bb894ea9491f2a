"""Nightly scoring of every recording: find what is not yet scored with its project's active
rubric, queue it, wait, and write the night's report.

Idempotent twice over: a recording already evaluated with the active rubric version is
skipped, and queueing uses the job keys of jobs.py (audio sha256 + rubric id + version).
Scheduling: `qa-service worker --nightly-at 02:00 --inbox DIR` puts one job per night on
rq's scheduler (job id `nightly_<date>`, so several workers schedule it once); each run
schedules the next night. A crontab line calling `qa-service nightly` works as well.
`--hourly-bulletins` books the hourly bulletin (整点通报) the same way (job id
`bulletin_<YYYYMMDDHH>`), each run booking the next whole hour.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from rq import Queue
from rq.job import Job
from sqlmodel import select

from qa_service.app.dispatch import TRANSCRIBE_QUEUE, redis_from_settings, score_job_id
from qa_service.app.scoring import find_audio
from qa_service.config import NIGHTLY_TIMEOUT, call_center_time, get_settings
from qa_service.domain.enums import DONE, Grade, JobState
from qa_service.domain.metadata import read_metadata
from qa_service.domain.schema import Schema
from qa_service.exceptions import MetadataError, QueueUnavailable
from qa_service.files import sha256_of
from qa_service.i18n import _, name_of
from qa_service.metrics.bulletin import BulletinReport, bulletin, projects_in_first_day
from qa_service.metrics.bulletin import to_markdown as bulletin_markdown
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.metrics.models import CommonError, KpiRow
from qa_service.review import tasks
from qa_service.storage.store import Store
from qa_service.storage.tables import SamplingPlan, utcnow
from qa_service.worker.jobs import service

log = logging.getLogger(__name__)


class FlaggedTonight(Schema):
    """A call the night scored that needs listening to (Evaluation.flag_reasons)."""

    evaluation_id: int
    recording_id: int
    agent_id: str
    grade: str
    fatal: bool
    score: float | None
    """None for a call not graded (grade no_speech)."""
    reasons: list[str]


@dataclass
class NightlyReport:
    started_at: str
    inbox: str
    found: int = 0
    already_scored: int = 0
    queued: int = 0
    skipped: list[str] = field(default_factory=list)  # file: reason (no project, no rubric ...)
    failed: list[str] = field(default_factory=list)
    kpis: list[KpiRow] = field(default_factory=list)
    flagged: list[FlaggedTonight] = field(default_factory=list)
    common_errors: list[CommonError] = field(default_factory=list)
    review_tasks: list[str] = field(default_factory=list)  # per sampling plan: tasks made

    def to_dict(self) -> dict:
        """The report's JSON (nightly-*.json): each KPI row names only its project."""
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "kpis": [row.model_dump(exclude_unset=True) for row in self.kpis],
            "flagged": [f.model_dump() for f in self.flagged],
            "common_errors": [e.model_dump() for e in self.common_errors],
        }

    def to_markdown(self) -> str:
        lines = [
            "# " + _("Nightly QA report {at}", at=self.started_at),
            "",
            _(
                "inbox {inbox}: {found} recordings, {done} already scored, {queued} queued, "
                "{skipped} skipped, {failed} failed",
                inbox=self.inbox,
                found=self.found,
                done=self.already_scored,
                queued=self.queued,
                skipped=len(self.skipped),
                failed=len(self.failed),
            ),
            "",
        ]
        for row in self.kpis:
            line = _(
                "project {project}: {calls} calls, pass rate {passed}, excellent rate "
                "{excellent}, fatal {fatal}",
                project=row.project or "-",
                calls=row.evaluated,
                passed=_pct(row.pass_rate),
                excellent=_pct(row.excellent_rate),
                fatal=row.fatal,
            )
            if row.no_speech:
                line += _(", no speech {n}", n=row.no_speech)
            lines.append("- " + line)
        if self.flagged:
            lines += ["", "## " + _("Flagged calls")]
            for f in self.flagged:
                line = _(
                    "recording {recording} agent {agent}: {grade}",
                    recording=f.recording_id,
                    agent=f.agent_id,
                    grade=name_of(f.grade),
                )
                line += f" ({_('fatal')})" if f.fatal else ""
                line += _(", score {score:g}", score=f.score) if f.score is not None else ""
                lines.append("- " + line)
        if self.common_errors:
            lines += ["", "## " + _("Common errors")]
            lines += [
                f"- {e.name or e.rule_id}: "
                + _("{calls} calls ({share:.0%})", calls=e.count, share=e.share)
                for e in self.common_errors
            ]
        if self.review_tasks:
            lines += ["", "## " + _("Review tasks (sampling plans)")]
            lines += [f"- {x}" for x in self.review_tasks]
        for title, items in ((_("Skipped"), self.skipped), (_("Failed"), self.failed)):
            if items:
                lines += ["", f"## {title}"] + [f"- {x}" for x in items]
        return "\n".join(lines) + "\n"


def pending_work(store: Store, inbox: Path, since: datetime | None = None):
    """(path, rubric) for every inbox recording not yet scored with its active rubric."""
    report_skips, todo, done = [], [], 0
    files = [
        p
        for p in find_audio([inbox])
        if since is None or datetime.fromtimestamp(p.stat().st_mtime, timezone.utc) >= since
    ]
    for path in files:
        try:
            meta = read_metadata(path)
        except MetadataError as exc:
            report_skips.append(str(exc))
            continue
        active = store.rubrics.active_in(meta.project) if meta.project else None
        if active is None:
            report_skips.append(
                _(
                    "{path}: no active rubric for project {project}",
                    path=path,
                    project=repr(meta.project),
                )
            )
            continue
        if store.evaluations.is_scored(sha256_of(path), active.rubric_id, active.version):
            done += 1
            continue
        todo.append(
            (path, store.rubrics.load(active.rubric_id, active.version, project=meta.project))
        )
    return files, todo, done, report_skips


def run_nightly(
    store: Store,
    inbox: Path,
    dispatcher=None,
    since: datetime | None = None,
    wait: bool = True,
    timeout: float = 6 * 3600,
    low_confidence: float | None = None,
) -> NightlyReport:
    """Queue (or, with no dispatcher, score here) what is new, then report on the night.
    Flagged calls are those Evaluation.flag_reasons names (QA_LOW_CONFIDENCE by default)."""
    # Stored times (created_at) are UTC: the night's own evaluations are those created since
    # this UTC instant, whatever the server's TZ (local now missed them east of UTC).
    started = utcnow().replace(microsecond=0)
    report = NightlyReport(
        started_at=datetime.now(get_settings().zone).replace(microsecond=0).isoformat(),
        inbox=str(inbox),
    )
    files, todo, report.already_scored, report.skipped = pending_work(store, inbox, since)
    report.found = len(files)
    job_ids = []
    for path, rubric in todo:
        if dispatcher is None:
            outcome = service().score_file(path, rubric)
            if outcome.error:
                report.failed.append(outcome.error)
            report.queued += 1
            continue
        sha = sha256_of(path)
        row, _created = store.jobs.record(score_job_id(sha, rubric), str(path), sha, rubric)
        try:
            dispatcher.submit(row, rubric)
        except QueueUnavailable as exc:
            report.failed.append(f"{path}: {exc}")
            continue
        job_ids.append(row.id)
        report.queued += 1
    if dispatcher is not None and wait and job_ids:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [dispatcher.status(store.jobs.get(j)) for j in job_ids]
            if all(r.status in DONE for r in rows):
                report.failed += [
                    f"{r.path}: {r.error}" for r in rows if r.status == JobState.FAILED
                ]
                break
            time.sleep(2)
    low = get_settings().low_confidence if low_confidence is None else low_confidence
    _summarize(store, report, started, low)
    report.review_tasks = run_plans(
        store, call_center_time(started).date() - timedelta(days=1), low
    )
    return report


def run_plans(store: Store, day: date, low_confidence: float) -> list[str]:
    """Every active sampling plan's tasks for the period holding `day` (the call center's
    date: the night scores the day before). A run makes a period's tasks once, so running it
    again (or by hand, POST /plans/{id}/run) adds only calls it had not picked."""
    done = []
    with store.session() as s:
        for plan in s.exec(select(SamplingPlan).where(SamplingPlan.active)).all():
            run = tasks.run_plan(s, plan, day, low_confidence)
            done.append(
                _(
                    "{project} {plan}: {n} tasks of {candidates} calls ({run})",
                    project=plan.project,
                    plan=plan.name,
                    n=len(run.created),
                    candidates=run.candidates,
                    run=run.run,
                )
            )
        s.commit()
    return done


def _summarize(store: Store, report: NightlyReport, since: datetime, low_confidence: float) -> None:
    """KPIs over every call scored in the inbox's projects; flagged calls and common errors of
    the evaluations this night produced."""
    report.kpis = store.read(kpi_rows, "project")
    recent = store.evaluations.created_since(since - timedelta(seconds=1))
    report.flagged = [
        FlaggedTonight(
            evaluation_id=e.id,
            recording_id=e.recording_id,
            agent_id=e.agent_id,
            grade=e.effective_grade,
            fatal=e.effective_fatal,
            score=None if e.effective_grade == Grade.NO_SPEECH else e.effective_score,
            reasons=[str(r) for r in reasons],
        )
        for e in recent
        if (reasons := e.flag_reasons(low_confidence))
    ]
    report.common_errors = store.read(common_errors, limit=10)


def _pct(rate: float | None) -> str:
    return _("n/a") if rate is None else f"{rate:.1%}"


def write_report(report: NightlyReport, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"nightly-{report.started_at.replace(':', '')}"
    stem.with_suffix(".json").write_text(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    stem.with_suffix(".md").write_text(report.to_markdown(), encoding="utf-8")
    return stem.with_suffix(".md")


def next_run(at: str, now: datetime | None = None) -> datetime:
    """The next HH:MM of the call center's time zone (QA_TIMEZONE) after now."""
    now = now or datetime.now(get_settings().zone)
    hour, minute = (int(x) for x in at.split(":"))
    run = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return run if run > now else run + timedelta(days=1)


def nightly_job(inbox: str, at: str, report_dir: str) -> dict:
    """The scheduled job: score the inbox here in the worker, write the report, book the next
    night. Runs once per date whatever the number of workers (job id nightly_<date>)."""
    store = service().store
    report = run_nightly(store, Path(inbox), dispatcher=None)
    path = write_report(report, Path(report_dir))
    schedule_nightly(inbox, at, report_dir, after=datetime.now(get_settings().zone))
    return {"report": str(path), "queued": report.queued, "found": report.found}


def _book_once(job_id: str, when: datetime, func, *args, description: str) -> str:
    """Book `func(*args)` on rq's scheduler at `when` under `job_id`, unless this or another
    worker booked it already."""
    redis = redis_from_settings()
    try:
        Job.fetch(job_id, connection=redis)
        return job_id  # already booked by this or another worker
    except Exception:
        pass
    Queue(TRANSCRIBE_QUEUE, connection=redis).enqueue_at(
        when.astimezone(),
        func,
        *args,
        job_id=job_id,
        job_timeout=NIGHTLY_TIMEOUT,
        description=description,
    )
    log.info("%s booked for %s", description, when)
    return job_id


def schedule_nightly(inbox: str, at: str, report_dir: str, after: datetime | None = None) -> str:
    when = next_run(at, after)
    job_id = f"nightly_{when.date().isoformat().replace('-', '')}"
    return _book_once(
        job_id, when, nightly_job, inbox, at, report_dir, description=f"nightly scoring of {inbox}"
    )


# Hourly bulletins (整点通报) -----------------------------------------------------------------


def run_bulletins(
    store: Store, hour: datetime, report_dir: Path | None = None
) -> list[BulletinReport]:
    """The bulletins of every project in its first day after launch, up to this whole hour
    (aware: of the call center's clock), kept in the database and, with `report_dir`, written
    there as Markdown (bulletin-<project>-<hour>.md)."""
    with store.session() as s:
        reports = [
            r for p in projects_in_first_day(s, hour) if (r := bulletin(s, p, hour)) is not None
        ]
    for r in reports:
        store.bulletins.save(r.project, r.hour, r.hours_since_launch, r.model_dump(mode="json"))
        if report_dir is not None:
            report_dir.mkdir(parents=True, exist_ok=True)
            local = call_center_time(r.hour)
            name = f"bulletin-{r.project}-{local:%Y%m%d-%H%M}.md"
            (report_dir / name).write_text(bulletin_markdown(r), encoding="utf-8")
    return reports


def next_hour(now: datetime | None = None) -> datetime:
    """The next whole hour of the call center's clock after now."""
    zone = get_settings().zone
    now = (now or datetime.now(zone)).astimezone(zone)  # a zone of half hours: its own hours
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def hourly_bulletin_job(report_dir: str, hour: str | None = None) -> dict:
    """The scheduled job: the bulletins of the whole hour it was booked for, then book the
    next hour's. Runs once per hour whatever the number of workers (job id bulletin_<hour>)."""
    zone = get_settings().zone
    at = (datetime.fromisoformat(hour) if hour else datetime.now(zone)).astimezone(zone)
    at = at.replace(minute=0, second=0, microsecond=0)
    reports = run_bulletins(service().store, at, Path(report_dir))
    schedule_bulletins(report_dir, after=at)
    return {"hour": at.isoformat(), "projects": [r.project for r in reports]}


def schedule_bulletins(report_dir: str, after: datetime | None = None) -> str:
    when = next_hour(after)
    return _book_once(
        f"bulletin_{when:%Y%m%d%H}",
        when,
        hourly_bulletin_job,
        report_dir,
        when.isoformat(),
        description="hourly bulletins (整点通报)",
    )


def parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    if value.endswith(("h", "d")):
        amount = float(value[:-1])
        return datetime.now(timezone.utc) - timedelta(
            hours=amount if value.endswith("h") else 24 * amount
        )
    since = datetime.fromisoformat(value)  # without an offset: the call center's time
    return since if since.tzinfo else since.replace(tzinfo=get_settings().zone)
