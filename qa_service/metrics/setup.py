"""三统一 (one script, one rubric, one knowledge base per campaign): what a project runs and
whether its script passed the audit with those very versions.

A project records its script (stored with its audit, storage/repositories/knowledge.py), its
active rubric version and the knowledge-base version its rubric reads; activating a rubric or
a knowledge base whose script has not passed the audit goes ahead with a warning.
"""

from __future__ import annotations

from qa_service.exceptions import RubricNotFound
from qa_service.i18n import _
from qa_service.metrics.models import ProjectSetup, ScriptRecord, VersionRef


def _ref(pair: tuple[str, int] | None) -> str:
    return f"{pair[0]} v{pair[1]}" if pair else "-"


def script_warnings(
    store,
    project: str,
    rubric: tuple[str, int] | None = None,
    kb: tuple[str, int] | None = None,
) -> list[str]:
    """Why the project's script does not stand behind these versions: none stored, its audit
    found problems, or it was audited with another rubric or knowledge-base version."""
    script = store.knowledge.latest_script(project)
    if script is None:
        return [
            _(
                "no audited script is stored for project {project}: store the script the "
                "agents read (POST /projects/{project}/script) so it is audited (三统一)",
                project=project,
            )
        ]
    out = []
    if not script.clean:
        out.append(
            _(
                "script v{version} of project {project} did not pass the audit ({problems} "
                "problem(s)): correct it and store it again",
                version=script.version,
                project=project,
                problems=len(script.audit.get("problems", [])),
            )
        )
    audited = (script.rubric_id, script.rubric_version)
    if rubric is not None and audited != rubric:
        out.append(
            _(
                "script v{version} was audited with rubric {audited}, the project runs "
                "{running}: audit it again",
                version=script.version,
                audited=_ref(audited),
                running=_ref(rubric),
            )
        )
    audited_kb = (script.kb_id, script.kb_version) if script.kb_id else None
    if kb is not None and audited_kb != kb:
        out.append(
            _(
                "script v{version} was audited with knowledge base {audited}, the project "
                "runs {running}: audit it again",
                version=script.version,
                audited=_ref(audited_kb),
                running=_ref(kb),
            )
        )
    return out


def running_versions(
    store, project: str, rubric_key: tuple[str, int] | None
) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
    """(rubric, knowledge base) the project runs: the rubric given (its active one, else the
    one its calls were scored with) and the stored knowledge base that rubric reads for it."""
    if rubric_key is None:
        return None, None
    try:
        rubric = store.rubrics.load(*rubric_key, project=project)
    except RubricNotFound:
        return rubric_key, None
    kb = rubric.knowledge
    version = rubric.knowledge_version
    return rubric_key, ((kb.id, version) if kb is not None and version is not None else None)


def project_setup(store, project: str, rubric_key: tuple[str, int] | None) -> ProjectSetup:
    rubric, kb = running_versions(store, project, rubric_key)
    row = store.knowledge.latest_script(project)
    script = None
    if row is not None:
        script = ScriptRecord(
            version=row.version,
            name=row.name,
            clean=row.clean,
            problems=len(row.audit.get("problems", [])),
            rubric=VersionRef(id=row.rubric_id, version=row.rubric_version),
            knowledge_base=(
                VersionRef(id=row.kb_id, version=row.kb_version)
                if row.kb_id and row.kb_version
                else None
            ),
            created_at=row.created_at,
        )
    warnings = script_warnings(store, project, rubric, kb)
    if rubric is None:
        warnings.append(_("project {project} has no active rubric", project=project))
    active_kb = store.knowledge.active_in(project)
    if active_kb is not None and (kb is None or active_kb.kb_id != kb[0]):
        warnings.append(
            _(
                "project {project} runs knowledge base {active}, but its rubric reads {read}",
                project=project,
                active=_ref((active_kb.kb_id, active_kb.version)),
                read=_ref(kb),
            )
        )
    return ProjectSetup(
        project=project,
        script=script,
        rubric=VersionRef(id=rubric[0], version=rubric[1]) if rubric else None,
        knowledge_base=VersionRef(id=kb[0], version=kb[1]) if kb else None,
        unified=not warnings,
        warnings=warnings,
    )
