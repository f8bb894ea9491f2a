"""What a rescore covers: never every campaign's calls unless asked for a project."""

from __future__ import annotations

from qa_service.i18n import message
from qa_service.storage.repositories.recordings import RescoreTarget
from qa_service.storage.store import Store


def rescore_scope(
    store: Store, rubric_id: str, project: str | None = None
) -> tuple[list[RescoreTarget], str]:
    """The recordings a rescore with this rubric covers, and a sentence saying so: the
    project's recordings when one is given; else only the recordings already evaluated with
    this rubric id and those of the projects where it is active."""
    if project:
        chosen = store.recordings.rescore_targets(project=project)
        return chosen, message(
            "{n} recording(s) of project {project}", n=len(chosen), project=project
        )
    projects = store.rubrics.projects_using(rubric_id)
    chosen = store.recordings.rescore_targets(evaluated_with=rubric_id, projects=projects)
    if projects:
        return chosen, message(
            "{n} recording(s): those already evaluated with rubric {rubric} and the recordings "
            "of project(s) {projects} where it is active (give a project to rescore another)",
            n=len(chosen),
            rubric=rubric_id,
            projects=", ".join(projects),
        )
    return chosen, message(
        "{n} recording(s): those already evaluated with rubric {rubric} (give a project to "
        "rescore another)",
        n=len(chosen),
        rubric=rubric_id,
    )
