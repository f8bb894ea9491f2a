"""Knowledge-base versions (stored YAML, never overwritten), the version each project runs, and
the audited outbound scripts of projects: with the active rubric, the three of 三统一."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, select

from qa_service.exceptions import KnowledgeNotFound, KnowledgeVersionConflict
from qa_service.i18n import message
from qa_service.rules.knowledge import KnowledgeBase, parse_knowledge
from qa_service.rules.rubric import Rubric
from qa_service.storage.tables import ActiveKnowledge, KnowledgeBaseRow, ProjectScript, utcnow

# A rubric names a stored knowledge base by id, or pins a version: contract-care@2.
_REFERENCE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]{0,63})(?:@(\d{1,9}))?$")


def reference(text: str | None) -> tuple[str, int | None] | None:
    """(id, pinned version or None) when `text` can name a stored knowledge base."""
    m = _REFERENCE.match(text or "")
    if m is None:
        return None
    return m.group(1), int(m.group(2)) if m.group(2) else None


class KnowledgeBases:
    def __init__(self, session: Callable[[], Session]):
        self.session = session

    def save(self, kb: KnowledgeBase, yaml_text: str) -> tuple[KnowledgeBaseRow, bool]:
        """(the row, whether it is new). The same id and version with other text is refused."""
        digest = hashlib.sha256(yaml_text.encode("utf-8")).hexdigest()
        with self.session() as s:
            row = s.exec(
                select(KnowledgeBaseRow).where(
                    KnowledgeBaseRow.kb_id == kb.id, KnowledgeBaseRow.version == kb.version
                )
            ).first()
            if row is not None:
                if row.sha256 != digest:
                    raise KnowledgeVersionConflict(
                        message(
                            "knowledge base {kb} version {version} is already stored with other "
                            "content; raise {field} to store a change",
                            kb=kb.id,
                            version=kb.version,
                            field="`version`",
                        )
                    )
                return row, False
            row = KnowledgeBaseRow(
                kb_id=kb.id,
                version=kb.version,
                product=kb.product,
                yaml_text=yaml_text,
                sha256=digest,
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return row, True

    def get(self, kb_id: str, version: int) -> KnowledgeBaseRow | None:
        with self.session() as s:
            return s.exec(
                select(KnowledgeBaseRow).where(
                    KnowledgeBaseRow.kb_id == kb_id, KnowledgeBaseRow.version == version
                )
            ).first()

    def newest_version(self, kb_id: str) -> int | None:
        with self.session() as s:
            return s.exec(
                select(KnowledgeBaseRow.version)
                .where(KnowledgeBaseRow.kb_id == kb_id)
                .order_by(KnowledgeBaseRow.version.desc())
            ).first()

    def load(self, kb_id: str, version: int) -> KnowledgeBase:
        row = self.get(kb_id, version)
        if row is None:
            raise KnowledgeNotFound(
                message(
                    "knowledge base {kb} version {version} is not stored",
                    kb=kb_id,
                    version=version,
                )
            )
        return parse_knowledge(row.yaml_text, f"{kb_id} v{version}")

    def all(self) -> list[KnowledgeBaseRow]:
        """Every stored version, by id then version."""
        with self.session() as s:
            return list(
                s.exec(
                    select(KnowledgeBaseRow).order_by(
                        KnowledgeBaseRow.kb_id,
                        KnowledgeBaseRow.version,
                    )
                ).all()
            )

    def active(self) -> list[ActiveKnowledge]:
        with self.session() as s:
            return list(s.exec(select(ActiveKnowledge).order_by(ActiveKnowledge.project)).all())

    def active_in(self, project: str) -> ActiveKnowledge | None:
        with self.session() as s:
            return s.get(ActiveKnowledge, project)

    def activate(self, project: str, kb_id: str, version: int) -> None:
        with self.session() as s:
            row = s.get(ActiveKnowledge, project) or ActiveKnowledge(
                project=project, kb_id=kb_id, version=version
            )
            row.kb_id, row.version, row.activated_at = kb_id, version, utcnow()
            s.add(row)
            s.commit()

    def version_for(self, ref: str | None, project: str | None = None) -> tuple[str, int] | None:
        """The stored version a rubric's `knowledge_base:` names: the version it pins, else
        the one the project runs (when it runs one of that id), else the newest stored.
        None when no knowledge base of that id is stored (a file path, for the CLI)."""
        named = reference(ref)
        if named is None:
            return None
        kb_id, pinned = named
        if pinned is not None:
            return (kb_id, pinned) if self.get(kb_id, pinned) else None
        active = self.active_in(project) if project else None
        if active is not None and active.kb_id == kb_id:
            return kb_id, active.version
        newest = self.newest_version(kb_id)
        return None if newest is None else (kb_id, newest)

    def attach(self, rubric: Rubric, project: str | None = None) -> Rubric:
        """The rubric with the stored knowledge base it names attached (knowledge_of reads it
        first); left as it is when it names none stored."""
        found = self.version_for(rubric.knowledge_base, project)
        if found is not None:
            rubric.attach_knowledge(self.load(*found), found[1])
        return rubric

    # Scripts -------------------------------------------------------------------------------

    def save_script(
        self,
        project: str,
        name: str,
        text: str,
        rubric: Rubric,
        kb: tuple[str, int] | None,
        audit: dict[str, Any],
        clean: bool,
        created_by: str,
    ) -> ProjectScript:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        with self.session() as s:
            newest = s.exec(
                select(ProjectScript.version)
                .where(ProjectScript.project == project)
                .order_by(ProjectScript.version.desc())
            ).first()
            row = ProjectScript(
                project=project,
                version=(newest or 0) + 1,
                name=name,
                text=text,
                sha256=digest,
                rubric_id=rubric.id,
                rubric_version=rubric.version,
                kb_id=kb[0] if kb else None,
                kb_version=kb[1] if kb else None,
                clean=clean,
                audit=audit,
                created_by=created_by,
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def scripts(self, project: str) -> list[ProjectScript]:
        with self.session() as s:
            return list(
                s.exec(
                    select(ProjectScript)
                    .where(ProjectScript.project == project)
                    .order_by(ProjectScript.version)
                ).all()
            )

    def latest_script(self, project: str) -> ProjectScript | None:
        with self.session() as s:
            return s.exec(
                select(ProjectScript)
                .where(ProjectScript.project == project)
                .order_by(ProjectScript.version.desc())
            ).first()
