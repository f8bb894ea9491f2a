"""What a rescore covers: never every campaign's calls unless asked for a project."""

from __future__ import annotations

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
        return chosen, f"{len(chosen)} recording(s) of project {project}"
    projects = store.rubrics.projects_using(rubric_id)
    chosen = store.recordings.rescore_targets(evaluated_with=rubric_id, projects=projects)
    where = (
        f" and the recordings of project(s) {', '.join(projects)} where it is active"
        if projects
        else ""
    )
    return chosen, (
        f"{len(chosen)} recording(s): those already evaluated with rubric "
        f"{rubric_id}{where} (give a project to rescore another)"
    )
