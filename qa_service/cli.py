"""`qa-service`: a thin shell over the library (service.py)."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from secrets import token_urlsafe

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import ArgumentError, DBAPIError

from qa_service.api import create_app
from qa_service.api.errors import database_unavailable
from qa_service.api.web.demo import make_demo_keys, make_demo_people
from qa_service.app.dispatch import QUEUES, make_dispatcher, redis_from_settings
from qa_service.app.keys import ROLES, create_key, list_keys, revoke_key
from qa_service.app.people import ROLE_LABELS, create_user
from qa_service.app.rescoring import rescore_scope
from qa_service.app.scoring import Outcome, QAService, find_audio
from qa_service.config import (
    SERVE_WORKER_HEALTHCHECK_S,
    SERVE_WORKERS_PER_CORE,
    get_settings,
)
from qa_service.domain.enums import Grade
from qa_service.domain.identifiers import identifier_problem
from qa_service.exceptions import (
    NoCalls,
    QAError,
    RubricError,
    RubricNotFound,
    RubricVersionConflict,
    ScriptError,
    SlotTaken,
)
from qa_service.i18n import codes, message, name_of
from qa_service.metrics.bulletin import to_markdown as bulletin_markdown
from qa_service.metrics.models import KpiRow
from qa_service.metrics.wrapup import to_markdown, write_wrapup
from qa_service.metrics.wrapup import wrapup as make_wrapup
from qa_service.rules.audit import TYPE_ALIASES, read_script
from qa_service.rules.audit import audit as run_audit
from qa_service.rules.knowledge import knowledge_of, load_knowledge
from qa_service.rules.lint import load_calls, overlaps, unused
from qa_service.rules.rubric import Rubric, load_rubric
from qa_service.rules.scoring import Scorer
from qa_service.storage.rollups import KpiSums
from qa_service.storage.store import Store
from qa_service.worker import jobs
from qa_service.worker.jobs import serve_queues, worker_name
from qa_service.worker.nightly import (
    parse_since,
    run_bulletins,
    run_nightly,
    schedule_bulletins,
    schedule_nightly,
    write_report,
)
from qa_service.worker.priority import lower_cpu_priority

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Score outbound telemarketing calls against a QA rubric.",
)
# Wide enough for the findings column when stdout is a file or a CI log, not a terminal.
out = Console(width=None if Console().is_terminal else 160)
err = Console(stderr=True)


class Format(str, Enum):
    table = "table"
    json = "json"


class Channel(str, Enum):
    left = "left"
    right = "right"


def _identifier(value: str | None) -> str | None:
    """--project as the API takes it (domain/identifiers): a clear usage error otherwise."""
    problem = identifier_problem(value) if value else None
    if problem is not None:
        raise typer.BadParameter(problem)
    return value


def _quiet_libraries() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("faster_whisper",):
        logging.getLogger(name).setLevel(logging.ERROR)


def _rubric(path: Path) -> Rubric:
    try:
        rubric = load_rubric(path)
        knowledge_of(rubric)  # a missing or bad knowledge base is refused up front
        return rubric
    except RubricError as exc:
        typer.echo(str(exc), err=True)  # plain: a wrapped path:line would not be clickable
        raise typer.Exit(2) from None


def _register(service: QAService, rules: Rubric, path: Path) -> None:
    """Store the rubric text with its version; a changed text under an old version is refused."""
    try:
        service.store.rubrics.save(rules, path.read_text(encoding="utf-8"))
    except RubricVersionConflict as exc:
        typer.echo(f"{path}: {exc}", err=True)
        raise typer.Exit(2) from None


def _store(db: str | None) -> Store:
    """Commands run by hand are one process: they bring the schema to head themselves, so
    `qa-service score` works on a fresh SQLite file with no separate `migrate` step."""
    return Store(db or get_settings().database_url, migrate=True)


def _service(db: str | None) -> QAService:
    return QAService(_store(db), get_settings())


def _progress(total: int, label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
        disable=total < 2 or not err.is_terminal,
    )


def _run_with_progress(label: str, total: int, work) -> list[Outcome]:
    with _progress(total, label) as bar:
        task = bar.add_task("", total=total)

        def advance(outcome: Outcome) -> None:
            bar.update(task, advance=1, description=Path(outcome.path).name)
            if outcome.error:
                typer.echo(message("error: {error}", error=outcome.error), err=True)

        return work(advance)


def top_findings(outcome: Outcome, limit: int = 3) -> str:
    findings = [f for f in outcome.result.findings if f.deduction > 0 or f.fatal]
    findings.sort(key=lambda f: (not f.fatal, -f.deduction))
    parts = []
    for f in findings[:limit]:
        label = f.name or f.rule_id
        fatal = message("fatal") + " " if f.fatal else ""
        parts.append(f"{fatal}{name_of(f.status)} {label} -{f.deduction:g}")
    more = len(findings) - limit
    return "; ".join(parts) + ("; " + message("+{n} more", n=more) if more > 0 else "")


def render_table(outcomes: list[Outcome], title: str = "") -> None:
    table = Table(title=title or None, show_lines=False)
    for col in ("call", "agent", "rubric", "score", "grade", "outcome", "top findings"):
        table.add_column(message(col), overflow="fold")
    colors = {
        Grade.EXCELLENT: "green",
        Grade.PASS: "cyan",
        Grade.FAIL: "red",
        Grade.NO_SPEECH: "yellow",
    }
    for o in outcomes:
        name = Path(o.path).name
        if o.error:
            table.add_row(name, "", "", "", f"[red]{message('error')}[/red]", "", o.error)
            continue
        r = o.result
        table.add_row(
            name,
            r.agent_id or "-",
            f"{r.rubric_id} v{r.rubric_version}",
            "-" if r.grade == Grade.NO_SPEECH else f"{r.score:g}",
            f"[{colors[r.grade]}]{name_of(r.grade)}[/]",
            name_of(r.outcome),
            # the result's warnings are the spec's English: read in the service's language here
            "; ".join(map(message, r.warnings)) if r.grade == Grade.NO_SPEECH else top_findings(o),
        )
    out.print(table)
    out.print(summary_line(outcomes), highlight=False)


def summary_line(outcomes: list[Outcome]) -> str:
    sums = KpiSums()
    for o in outcomes:
        if o.result:
            sums.add(
                KpiSums.of_call(o.result.grade, o.result.outcome, o.result.fatal, o.result.duration)
            )
    kpis = KpiRow.of_sums(sums)
    failed_files = len(outcomes) - kpis.evaluated - kpis.no_speech

    def pct(rate: float | None) -> str:
        return f"{rate:.1%}" if rate is not None else message("n/a")

    parts = [
        message("calls {n}", n=kpis.evaluated),
        message("machine pass rate {rate}", rate=pct(kpis.pass_rate)),
        message("excellent rate {rate}", rate=pct(kpis.excellent_rate)),
        message("fatal {n}", n=kpis.fatal),
    ]
    if kpis.no_speech:
        parts.append(message("no speech (not graded) {n}", n=kpis.no_speech))
    if failed_files:
        parts.append(message("errors {n}", n=failed_files))
    return "  ".join(parts)


def emit(outcomes: list[Outcome], fmt: Format, out_file: Path | None, title: str = "") -> None:
    if fmt == Format.json:
        text = json.dumps([o.to_dict() for o in outcomes], ensure_ascii=False, indent=1)
        if out_file:
            out_file.write_text(text + "\n", encoding="utf-8")
        else:
            sys.stdout.write(text + "\n")
        return
    if out_file:
        out_file.write_text(
            json.dumps([o.to_dict() for o in outcomes], ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )
    render_table(outcomes, title)


@app.command()
def score(
    paths: list[Path] = typer.Argument(..., help="audio files or directories (recursive)"),
    rubric: Path = typer.Option(..., "--rubric", "-r", help="rubric YAML"),
    format: Format = typer.Option(Format.table, "--format", "-f"),
    out_file: Path | None = typer.Option(None, "--out", "-o", help="also write JSON here"),
    agent_channel: Channel | None = typer.Option(
        None, "--agent-channel", help="stereo channel of the agent (default: rubric channels)"
    ),
    db: str | None = typer.Option(None, "--db", help="database URL (default QA_DATABASE_URL)"),
) -> None:
    """Transcribe and score recordings; results are stored. Exit 2 if any file failed."""
    _quiet_libraries()
    rules = _rubric(rubric)
    service = _service(db)
    _register(service, rules, rubric)
    files = list(find_audio(paths))
    if not files:
        where = ", ".join(map(str, paths))
        err.print(f"[red]{message('no audio files under {paths}', paths=where)}[/red]")
        raise typer.Exit(2)
    outcomes = _run_with_progress(
        message("scoring"),
        len(files),
        lambda advance: service.score_files(
            files, rules, agent_channel and agent_channel.value, advance
        ),
    )
    emit(outcomes, format, out_file)
    raise typer.Exit(2 if any(o.error for o in outcomes) else 0)


@app.command()
def rescore(
    rubric: Path = typer.Option(..., "--rubric", "-r"),
    project: str | None = typer.Option(None, "--project", "-p", callback=_identifier),
    format: Format = typer.Option(Format.table, "--format", "-f"),
    out_file: Path | None = typer.Option(None, "--out", "-o"),
    db: str | None = typer.Option(None, "--db"),
) -> None:
    """Score stored transcripts again with a (new version of a) rubric, no recognition: a
    project's, or without --project those already evaluated with this rubric id and those of
    the projects where it is active."""
    _quiet_libraries()
    rules = _rubric(rubric)
    service = _service(db)
    _register(service, rules, rubric)
    chosen, scope = rescore_scope(service.store, rules.id, project)
    typer.echo(message("rescoring {scope}", scope=scope), err=True)  # say what was chosen
    total = len(chosen)
    outcomes = _run_with_progress(
        message("rescoring"), total, lambda advance: service.rescore(rules, project, advance)
    )
    emit(outcomes, format, out_file)


@app.command()
def demo(
    rubrics: Path = typer.Option(Path("rubrics"), help="rubric YAML files, one per campaign"),
    samples: Path = typer.Option(Path("samples"), help="samples/<rubric id>/ per rubric"),
    db: str | None = typer.Option(None, "--db"),
) -> None:
    """Score every sample recording against the rubric of its folder and print the table."""
    _quiet_libraries()
    service = _service(db)
    everything: list[Outcome] = []
    for path in sorted(rubrics.glob("*.yaml")):
        rules = _rubric(path)
        files = list(find_audio([samples / rules.id])) if (samples / rules.id).is_dir() else []
        if not files:
            continue
        _register(service, rules, path)
        outcomes = _run_with_progress(
            rules.id,
            len(files),
            # called before this iteration ends, so binding its files and rubric is the same
            lambda advance, files=files, rules=rules: service.score_files(
                files, rules, None, advance
            ),
        )
        render_table(outcomes, f"{rules.name} ({rules.id} v{rules.version})")
        everything += outcomes
    if not everything:
        where = f"{samples}/<rubric id>/"
        err.print(f"[red]{message('no samples found under {path}', path=where)}[/red]")
        raise typer.Exit(2)
    out.print(
        f"[bold]{message('all campaigns')}[/bold]  " + summary_line(everything), highlight=False
    )
    raise typer.Exit(2 if any(o.error for o in everything) else 0)


@app.command()
def worker(
    queues: list[str] | None = typer.Option(
        None,
        "--queues",
        "-q",
        help="queues to serve, in priority order "
        "(default qa-transcribe qa-rescore): --queues a b, or -q a -q b",
    ),
    more_queues: list[str] | None = typer.Argument(
        None,
        metavar="[QUEUE]...",
        help="more queues: `--queues a b` reads b here",
        show_default=False,
    ),
    slot: int = typer.Option(0, help="slot number on this host (a stable worker name)"),
    burst: bool = typer.Option(False, help="exit when the queues are empty"),
    nightly_at: str | None = typer.Option(None, help="HH:MM: run nightly scoring then"),
    inbox: Path | None = typer.Option(None, help="the nightly inbox (with --nightly-at)"),
    reports: Path = typer.Option(Path("reports"), help="where nightly reports are written"),
    hourly_bulletins: bool = typer.Option(
        False,
        "--hourly-bulletins",
        help="every whole hour, the bulletin (整点通报) of projects in their first day",
    ),
) -> None:
    """An rq worker on our queues (rq info and rq-dashboard see it like any other)."""
    queues = [*(queues or []), *(more_queues or [])] or list(QUEUES)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    # before anything starts a thread: CTranslate2's and BLAS's threads inherit the niceness
    lower_cpu_priority(get_settings().worker_nice)
    redis = redis_from_settings()
    if nightly_at:
        if inbox is None:
            typer.echo(message("{a} needs {b}", a="--nightly-at", b="--inbox"), err=True)
            raise typer.Exit(2)
        schedule_nightly(str(inbox.resolve()), nightly_at, str(reports.resolve()))
    if hourly_bulletins:
        schedule_bulletins(str(reports.resolve()))
    jobs.warm_up(queues)  # the first job no longer pays for loading the models
    try:
        # every worker runs rq's scheduler (elected once among them by a Redis lock), so
        # retries with backoff and scheduled jobs run whichever workers are up
        serve_queues(queues, worker_name(slot), redis, burst)
    except SlotTaken as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command()
def nightly(
    inbox: Path = typer.Option(..., help="folder of new recordings (recursive)"),
    since: str | None = typer.Option(None, help="only files modified since: ISO time, 12h, 2d"),
    wait: bool = typer.Option(True, help="wait for the queued jobs before reporting"),
    reports: Path = typer.Option(Path("reports"), help="where the report is written"),
    db: str | None = typer.Option(None, "--db"),
) -> None:
    """Score every recording not yet scored with its project's active rubric, then report.
    With QA_REDIS_URL the work goes to the workers; without, it runs here."""
    _quiet_libraries()
    settings = get_settings()
    if db:
        settings = settings.model_copy(update={"database_url": db})
    store = Store(settings.database_url, migrate=True)
    jobs.configure(settings)
    dispatcher = make_dispatcher(settings, store) if settings.redis_url else None
    try:
        report = run_nightly(store, inbox, dispatcher, parse_since(since), wait)
    finally:
        if dispatcher is not None:
            dispatcher.close()
    path = write_report(report, reports)
    out.print(report.to_markdown(), highlight=False)
    typer.echo(message("report: {path}", path=path), err=True)
    raise typer.Exit(2 if report.failed else 0)


@app.command()
def bulletin(
    hour: str | None = typer.Option(
        None, help="the whole hour it reports up to, ISO (call center's time); default: now's"
    ),
    reports: Path = typer.Option(Path("reports"), help="where the bulletins are written"),
    db: str | None = typer.Option(None, "--db"),
) -> None:
    """整点通报: the hourly bulletin of every project in its first day after launch, kept in the
    database (the dashboard shows it) and written under reports/ (the worker's
    --hourly-bulletins runs it every hour)."""
    _quiet_libraries()
    settings = get_settings()
    if db:
        settings = settings.model_copy(update={"database_url": db})
    store = Store(settings.database_url, migrate=True)
    zone = settings.zone
    at = datetime.fromisoformat(hour) if hour else datetime.now(zone)
    at = (at if at.tzinfo else at.replace(tzinfo=zone)).replace(minute=0, second=0, microsecond=0)
    made = run_bulletins(store, at, reports)
    for report in made:
        out.print(bulletin_markdown(report), highlight=False)
    if not made:
        typer.echo(
            message("no project in its first day after launch at {at}", at=at.isoformat()),
            err=True,
        )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    demo_keys: bool = typer.Option(
        False, "--demo-keys", help="make fresh demo keys (one per role) and print them"
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="API processes (default with QA_REDIS_URL: one per core; without it always 1)",
    ),
) -> None:
    """The HTTP API (OpenAPI docs at /docs) and the web app (/). With no QA_REDIS_URL, jobs run
    in this process, which is then the only one."""
    settings = get_settings()
    if workers is None:
        workers = serve_workers() if settings.redis_url else 1
    if workers > 1 and not settings.redis_url:
        typer.echo(
            message(
                "{option} needs {setting}: without it jobs run inside the API process, and {n} "
                "processes would each run them. Set {setting} (and run {command}), or serve "
                "with {one}.",
                option=f"--workers {workers}",
                setting="QA_REDIS_URL",
                n=workers,
                command="`qa-service worker`",
                one="--workers 1",
            ),
            err=True,
        )
        raise typer.Exit(2)
    store = _store(None)  # reach and migrate the database first: one line if it cannot
    if demo_keys:
        secrets = make_demo_keys(store)
        out.print(
            f"[bold]{message('web app:')}[/bold] http://{host}:{port}/  "
            + message("(sign in with one of these demo keys)")
        )
        for role, secret in secrets.items():
            out.print(f"  {role:9s} {secret}", highlight=False)
        out.print(message("or as a person (user name and password):"))
        for role, (name, password) in make_demo_people(store).items():
            out.print(f"  {role:9s} {name}  {password}", highlight=False)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port)
        return
    if not settings.session_secret:
        # one web session secret for every process (each would draw its own: a sign-in would
        # hold on one process only); unset, it still ends when the service restarts
        os.environ["QA_SESSION_SECRET"] = token_urlsafe(32)
    # each process builds its app from the environment (create_app() reads QA_*)
    uvicorn.run(
        "qa_service.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_worker_healthcheck=SERVE_WORKER_HEALTHCHECK_S,
    )


def serve_workers() -> int:
    """Processes `serve` starts with Redis when --workers is not given (config)."""
    return max(1, (os.cpu_count() or 1) * SERVE_WORKERS_PER_CORE)


keys_app = typer.Typer(help="API keys (stored hashed; the secret is shown once).")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: str = typer.Option(..., help="admin | manager | reviewer | viewer"),
    name: str = typer.Option("", help="who holds it"),
    db: str | None = typer.Option(None, "--db"),
) -> None:
    if role not in ROLES:
        typer.echo(message("role must be one of {roles}", roles=codes(ROLES)), err=True)
        raise typer.Exit(2)
    key, secret = create_key(_store(db), role, name)
    typer.echo(secret)


@keys_app.command("list")
def keys_list(db: str | None = typer.Option(None, "--db")) -> None:
    """Every key: id, name, role, the secret's first characters, created, revoked."""
    table = Table()
    for col in ("id", "name", "role", "prefix", "created (UTC)", "revoked"):
        table.add_column(message(col))
    for k in list_keys(_store(db)):
        table.add_row(
            str(k.id),
            k.name,
            message(ROLE_LABELS.get(k.role, k.role)),
            k.prefix + "…",
            k.created_at.isoformat(" ", "seconds"),
            message("revoked") if k.revoked else "",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: int = typer.Argument(..., help="the id from `keys list`"),
    db: str | None = typer.Option(None, "--db"),
) -> None:
    """Revoke a key: requests with it answer 401 at once."""
    key = revoke_key(_store(db), key_id)
    if key is None:
        typer.echo(
            message("no key with id {id} ({command})", id=key_id, command="`qa-service keys list`"),
            err=True,
        )
        raise typer.Exit(2)
    role = message(ROLE_LABELS.get(key.role, key.role))
    typer.echo(
        message(
            "revoked key {id} ({name}, {role}, {prefix}…)",
            id=key.id,
            name=key.name,
            role=role,
            prefix=key.prefix,
        )
    )


users_app = typer.Typer(help="People who sign in to the web app (passwords stored as argon2).")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="what they sign in with"),
    role: str = typer.Option(..., help="admin | manager | reviewer | viewer | team_lead | agent"),
    agent_id: str | None = typer.Option(None, help="an agent's id as their calls carry it"),
    team: str | None = typer.Option(None, help="the team a team lead leads"),
    password: str | None = typer.Option(
        None, envvar="QA_NEW_PASSWORD", help="asked for (twice, hidden) when not given"
    ),
    db: str | None = typer.Option(None, "--db"),
) -> None:
    """Add a person (the first admin of a deployment is added here)."""
    if password is None:
        password = typer.prompt(message("Password"), hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(_store(db), name, password, role, agent_id=agent_id, team=team)
    except QAError as exc:
        typer.echo(f"users add: {exc}", err=True)
        raise typer.Exit(2) from None
    role_name = message(ROLE_LABELS.get(user.role, user.role))
    typer.echo(
        message("added user {id} {name} ({role})", id=user.id, name=user.name, role=role_name)
    )


@users_app.command("list")
def users_list(db: str | None = typer.Option(None, "--db")) -> None:
    table = Table()
    for col in ("id", "name", "role", "agent id", "team", "active"):
        table.add_column(message(col))
    for u in _store(db).people.all():
        table.add_row(
            str(u.id),
            u.name,
            message(ROLE_LABELS.get(u.role, u.role)),
            u.agent_id or "",
            u.team or "",
            "" if u.active else message("no"),
        )
    out.print(table)


@users_app.command("team")
def users_team(
    team: str = typer.Argument(...),
    agents: list[str] = typer.Argument(..., help="the team's agent ids, all of them"),
    db: str | None = typer.Option(None, "--db"),
) -> None:
    """Set a team's agents (its team lead sees their calls)."""
    _store(db).people.set_team(team, agents)
    typer.echo(message("team {team}: {agents}", team=team, agents=", ".join(sorted(set(agents)))))


@app.command()
def migrate(db: str | None = typer.Option(None, "--db")) -> None:
    """Create or upgrade the database schema (Alembic migrations): once per deployment, before
    the API and the workers start (they refuse a database behind head)."""
    store = _store(db)
    where = store.engine.url.render_as_string(hide_password=True)
    typer.echo(message("{where}: schema at head", where=where))


@app.command("rebuild-rollups")
def rebuild_rollups(db: str | None = typer.Option(None, "--db")) -> None:
    """Recompute the KPI and common-error rollups and costly_rule from the evaluations (they
    are kept up to date as calls are scored and reviewed; this is for after a manual change to
    the data)."""
    counted = _store(db).evaluations.rebuild_rollups()
    typer.echo(message("rollups rebuilt from {n} current evaluations", n=counted))


@app.command()
def audit(
    script: Path = typer.Argument(..., help="outbound script: Markdown, plain text or .docx"),
    rubric: Path = typer.Option(..., "--rubric", "-r", help="the project's rubric YAML"),
    kb: Path | None = typer.Option(
        None, "--kb", help="knowledge base YAML (default: the rubric's knowledge_base)"
    ),
    type_: str | None = typer.Option(
        None,
        "--type",
        "-t",
        help="the project type the "
        "requirement asks for: marketing|survey|care (营销|调查|关怀); "
        "default: the rubric's",
    ),
    format: Format = typer.Option(Format.table, "--format", "-f"),
    out_file: Path | None = typer.Option(None, "--out", "-o", help="also write JSON here"),
) -> None:
    """Pre-trial script audit (试呼前评估核查). Exit 0 clean, 1 problems found, 2 bad input."""
    rules = _rubric(rubric)
    if type_ is not None and type_ not in TYPE_ALIASES:
        typer.echo(
            message(
                "{option} must be one of {allowed}",
                option="--type",
                allowed=codes(TYPE_ALIASES),
            ),
            err=True,
        )
        raise typer.Exit(2)
    try:
        knowledge = load_knowledge(kb) if kb else knowledge_of(rules)
        report = run_audit(read_script(script), rules, knowledge, type_)
    except (ScriptError, RubricError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    data = report.to_dict()
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if out_file:
        try:
            out_file.write_text(text, encoding="utf-8")
        except OSError as exc:
            typer.echo(
                message(
                    "{path}: cannot write ({reason})", path=out_file, reason=exc.strerror or exc
                ),
                err=True,
            )
            raise typer.Exit(2) from None
    if format == Format.json:
        sys.stdout.write(text)
    else:
        render_audit(data)
    raise typer.Exit(0 if report.clean else 1)


def render_audit(data: dict) -> None:
    kinds = data["project_type"]
    head = message(
        "{script}  rubric {rubric} v{version}  knowledge base {kb}  type {type}",
        script=data["script"],
        rubric=data["rubric"]["id"],
        version=data["rubric"]["version"],
        kb=data["knowledge_base"] or "-",
        type=message(kinds["required"]),
    )
    out.print(f"[bold]{message('script audit')}[/bold] {head}", highlight=False)
    table = Table(show_lines=False)
    for col in ("check", "item", "result", "line", "detail"):
        table.add_column(message(col), overflow="fold")
    ok = f"[green]{message('ok')}[/green]"
    bad = f"[red]{message('problem')}[/red]"
    for p in data["parts"]:
        result = ok if p["found"] else (bad if p["required"] else message("n/a"))
        how = message("under its heading") if p["how"] == "heading" else message("by a phrase")
        table.add_row(
            message("script part"),
            p["part"],
            result,
            str(p["line"] or ""),
            f"{how}: {p['text']}" if p["found"] else message("missing"),
        )
    for p in data["points"]:
        # the script's own line; the rubric's phrase it matched only when it differs
        detail = p["text"] or message("not explained")
        if p["phrase"] and p.get("words") and p["phrase"] != p["words"]:
            detail += f" (≈ {p['phrase']})"
        if p.get("wrong_fact"):
            detail += " " + message(
                "(with a value the knowledge base contradicts: see the knowledge base rows)"
            )
        table.add_row(
            message("mandatory point"),
            p["name"] or p["id"],
            ok if p["explained"] else bad,
            str(p["line"] or ""),
            detail,
        )
    for f in data["forbidden"]:
        table.add_row(
            message("forbidden phrase"),
            f["name"] or f["id"],
            bad,
            str(f["line"]),
            f"{f['phrase']}: {f['text']}",
        )
    for f in data["facts"]:
        table.add_row(
            message("knowledge base"),
            f["name"] or f["fact"],
            bad,
            str(f["line"]),
            message(
                "says {said} ({words}), knowledge base {value}",
                said=f["said"],
                words=f["words"],
                value=f["kb_value"],
            ),
        )
    for problem in kinds["problems"]:
        table.add_row(message("project type"), message(kinds["required"]), bad, "", problem)
    out.print(table)
    n = len(data["problems"])
    if n:
        out.print(f"[red]{message('{n} problem(s)', n=n)}[/red]")
    else:
        out.print(f"[green]{message('clean: no problems')}[/green]")


@app.command()
def wrapup(
    project: str = typer.Option(..., "--project", "-p", callback=_identifier),
    reports: Path = typer.Option(Path("reports"), help="where the report is saved"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table prints Markdown"),
    db: str | None = typer.Option(None, "--db"),
) -> None:
    """Project wrap-up (项目完结后的总结积累): KPIs, guide map, common errors with their trend,
    highlight scripts, refusal reasons, product-fact violations; saved as JSON and Markdown."""
    store = _store(db)
    try:
        report = make_wrapup(store, project)
    except (NoCalls, RubricNotFound) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    try:
        json_path, md_path = write_wrapup(report, reports)
    except OSError as exc:
        typer.echo(
            message(
                "{path}: cannot write the report ({reason})",
                path=reports,
                reason=exc.strerror or exc,
            ),
            err=True,
        )
        raise typer.Exit(2) from None
    if format == Format.json:
        sys.stdout.write(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str) + "\n"
        )
    else:
        out.print(to_markdown(report), highlight=False, markup=False)
    typer.echo(message("saved: {paths}", paths=f"{md_path} {json_path}"), err=True)


@app.command("check-rubric")
def check_rubric(
    paths: list[Path] = typer.Argument(...),
    calls: Path | None = typer.Option(
        None,
        "--calls",
        help="dev calls to try `similar:` examples on: a transcripts JSON "
        "(benchmarks/data/*.json) or a corpus folder of *.ref.json",
    ),
) -> None:
    """Validate rubric files; prints every problem with file, line and field, and warns about
    `similar:` examples that overlap between rules or match none of the dev calls."""
    bad = False
    dev_calls = None
    if calls is not None:
        if not calls.exists():
            typer.echo(message("{path}: no such file or folder", path=calls), err=True)
            raise typer.Exit(2)
        try:
            dev_calls = load_calls(calls)
        except (ValueError, KeyError, TypeError) as exc:
            typer.echo(
                message(
                    "{path}: not a transcripts file or corpus folder ({reason})",
                    path=calls,
                    reason=exc,
                ),
                err=True,
            )
            raise typer.Exit(2) from None
    for path in paths:
        try:
            r = load_rubric(path)
            kb = knowledge_of(r)
            facts = (
                message("knowledge base {kb}: {n} facts", kb=kb.id, n=len(kb.facts)) if kb else ""
            )
            summary = message(
                "{path}: ok ({rubric} v{version}, {n} rules)",
                path=path,
                rubric=r.id,
                version=r.version,
                n=len(r.rules()),
            )
            out.print(summary + (f" {facts}" if facts else ""), highlight=False)
        except RubricError as exc:
            typer.echo(str(exc), err=True)
            bad = True
            continue
        scorer = Scorer(
            r,
            get_settings().fuzzy,
            get_settings().similar_threshold,
            model=get_settings().similar_model,
        )
        warnings = overlaps(scorer) + (unused(scorer, dev_calls) if dev_calls else [])
        for warning in warnings:
            out.print(
                message("{path}: warning: {warning}", path=path, warning=warning), highlight=False
            )
    raise typer.Exit(2 if bad else 0)


def main() -> None:
    """The CLI; a database that cannot be reached (or a URL that is not one) is one line on
    stderr and exit 2, as for any other bad input, never a traceback."""
    try:
        app()  # click's own errors (usage, --help) exit there, as usual
    except DBAPIError as exc:
        typer.echo(message("error: {error}", error=database_unavailable(exc)), err=True)
        sys.exit(2)
    except (ArgumentError, ModuleNotFoundError) as exc:
        if (
            isinstance(exc, ModuleNotFoundError)
            and "dialect" not in str(exc)
            and "driver" not in str(exc)
        ):
            raise
        typer.echo(
            message(
                "error: {error}",
                error=message("the database URL is not usable ({reason})", reason=exc),
            ),
            err=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
