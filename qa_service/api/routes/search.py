from typing import Literal

from fastapi import APIRouter, Query

from qa_service.api.deps import (
    NO_NUL,
    Identifier,
    Member,
    SettingsDep,
    StoreDep,
    TimeQuery,
    agents_filter,
)
from qa_service.domain.enums import Grade
from qa_service.domain.schema import MAX_ROW_ID
from qa_service.review import search
from qa_service.review.models import SearchPage

router = APIRouter(tags=["evaluations"])

# The schema says what terms() accepts: up to MAX_TERMS words of MIN_CHARS or more, split at
# spaces, so a request the schema allows is never refused for its shape.
_SEP = f"[{search.SEPARATORS}]"
_WORD = f"[^{search.SEPARATORS}\\x00]{{{search.MIN_CHARS},}}"
SEARCH_WORDS = f"^{_SEP}*{_WORD}(?:{_SEP}+{_WORD}){{0,{search.MAX_TERMS - 1}}}{_SEP}*$"


@router.get("/search", response_model=SearchPage)
def search_calls(
    store: StoreDep,
    settings: SettingsDep,
    who: Member,
    q: str = Query(..., min_length=search.MIN_CHARS, max_length=100, pattern=SEARCH_WORDS),
    role: Literal["agent", "customer"] | None = None,
    project: Identifier | None = None,
    agent: Identifier | None = None,
    rubric_id: Identifier | None = None,
    grade: Grade | None = None,
    flagged: bool | None = None,
    rule: str | None = Query(None, max_length=200, pattern=NO_NUL),
    reviewed: bool | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    page: int = Query(1, ge=1, le=MAX_ROW_ID),
    page_size: int = Query(50, ge=1, le=200),
) -> SearchPage:
    """Calls whose transcript has an utterance holding every word of `q` (words split at
    spaces, two characters or more each; `role`: said by the agent or the customer), with the
    lists' filters (`flagged=true`: the calls to listen to), newest first, each with its first
    hits (seq and start: open the call page there, /calls/{evaluation_id}?t=start&q=...).
    `total` counts up to QA_FLAGGED_COUNT_LIMIT (`total_exact` false beyond). An agent or team
    lead finds their agents' calls only; numbers of more than three digits are an admin's to
    search (the pages show them masked)."""
    with store.session() as s:
        return search.search_calls(
            s,
            q,
            settings.low_confidence,
            settings.flagged_count_limit,
            page,
            page_size,
            masked=not who.is_admin,
            role=role,
            flagged=flagged,
            rule=rule,
            reviewed=reviewed,
            project=project,
            agent=agent,
            rubric_id=rubric_id,
            grade=grade,
            since=since,
            until=until,
            **agents_filter(who),
        )
