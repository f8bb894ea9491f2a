"""Rubric versions (stored YAML, never overwritten) and the version active in each project."""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Callable, Iterable

from sqlmodel import Session, select

from qa_service.exceptions import RubricNotFound, RubricVersionConflict
from qa_service.i18n import message
from qa_service.rules.rubric import Rubric, parse_rubric
from qa_service.storage.repositories.knowledge import KnowledgeBases
from qa_service.storage.tables import ActiveRubric, RubricRow, utcnow


class Rubrics:
    def __init__(self, session: Callable[[], Session]):
        self.session = session

    def save(self, rubric: Rubric, yaml_text: str) -> RubricRow:
        """Versions are never overwritten: the same id and version with other text is refused."""
        digest = hashlib.sha256(yaml_text.encode("utf-8")).hexdigest()
        with self.session() as s:
            row = s.exec(
                select(RubricRow).where(
                    RubricRow.rubric_id == rubric.id, RubricRow.version == rubric.version
                )
            ).first()
            if row is not None:
                if row.sha256 != digest:
                    raise RubricVersionConflict(
                        message(
                            "rubric {rubric} version {version} is already stored with other "
                            "content; raise {field} to store a change",
                            rubric=rubric.id,
                            version=rubric.version,
                            field="`version`",
                        )
                    )
                return row
            row = RubricRow(
                rubric_id=rubric.id,
                version=rubric.version,
                name=rubric.name,
                project_type=rubric.project_type,
                yaml_text=yaml_text,
                sha256=digest,
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def get(self, rubric_id: str, version: int) -> RubricRow | None:
        with self.session() as s:
            return s.exec(
                select(RubricRow).where(
                    RubricRow.rubric_id == rubric_id, RubricRow.version == version
                )
            ).first()

    def newest_version(self, rubric_id: str) -> int | None:
        """The highest stored version of this rubric, None when none is stored."""
        with self.session() as s:
            return s.exec(
                select(RubricRow.version)
                .where(RubricRow.rubric_id == rubric_id)
                .order_by(RubricRow.version.desc())
            ).first()

    def load(self, rubric_id: str, version: int, project: str | None = None) -> Rubric:
        """The stored rubric version, parsed (jobs and reports name rubrics by id and version),
        with the stored knowledge base it names (the version `project` runs, if it runs one)."""
        row = self.get(rubric_id, version)
        if row is None:
            raise RubricNotFound(
                message(
                    "rubric {rubric} version {version} is not stored",
                    rubric=rubric_id,
                    version=version,
                )
            )
        # a copy: the caller's rubric gets its knowledge base attached, the parsed one stays bare
        rubric = copy.deepcopy(_parsed(row.sha256, row.yaml_text, f"{rubric_id} v{version}"))
        return KnowledgeBases(self.session).attach(rubric, project)

    def all(self) -> list[RubricRow]:
        """Every stored rubric version, by id then version."""
        with self.session() as s:
            return list(
                s.exec(select(RubricRow).order_by(RubricRow.rubric_id, RubricRow.version)).all()
            )

    def active(self) -> list[ActiveRubric]:
        """The active rubric of every project that has one, by project."""
        with self.session() as s:
            return list(s.exec(select(ActiveRubric).order_by(ActiveRubric.project)).all())

    def active_in(self, project: str) -> ActiveRubric | None:
        with self.session() as s:
            return s.get(ActiveRubric, project)

    def active_versions(self, s: Session, projects: Iterable[str]) -> dict[str, tuple[str, int]]:
        """The rubric id and version active in each of these projects that has one."""
        return {
            a.project: (a.rubric_id, a.version)
            for a in s.exec(
                select(ActiveRubric).where(ActiveRubric.project.in_(set(projects)))
            ).all()
        }

    def projects_using(self, rubric_id: str) -> list[str]:
        """The projects where a version of this rubric is active, sorted."""
        with self.session() as s:
            return sorted(
                s.exec(
                    select(ActiveRubric.project).where(ActiveRubric.rubric_id == rubric_id)
                ).all()
            )

    def activate(self, project: str, rubric_id: str, version: int) -> None:
        with self.session() as s:
            row = s.get(ActiveRubric, project) or ActiveRubric(
                project=project, rubric_id=rubric_id, version=version
            )
            row.rubric_id, row.version, row.activated_at = rubric_id, version, utcnow()
            s.add(row)
            s.commit()


@functools.lru_cache(maxsize=64)
def _parsed(sha256: str, yaml_text: str, source: str) -> Rubric:
    """A stored version's text parsed once per process (versions are never overwritten; the
    text is parsed on its own, without files)."""
    return parse_rubric(yaml_text, source)


def rubric_title(s: Session, rubric_id: str, version: int) -> str | None:
    """The rubric version's title (what people call it), None where it is not stored or has
    none."""
    return (
        s.exec(
            select(RubricRow.name).where(
                RubricRow.rubric_id == rubric_id, RubricRow.version == version
            )
        ).first()
        or None
    )
