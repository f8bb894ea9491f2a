"""Search across calls: the current evaluations whose transcript has an utterance holding
every searched word (Chinese, any substring of two characters or more), with the flagged and
calls lists' filters, newest call first, and the hits of each call (where to start listening).

PostgreSQL finds the utterances through the bigram index of migration 0014 (an utterance that
holds a word holds each of its two-character pieces), then keeps those that hold the words
themselves (LIKE); SQLite reads the transcripts (LIKE only).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from sqlalchemy import String, bindparam, cast, func, literal, text, true
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session, select

from qa_service.exceptions import BadInput
from qa_service.i18n import message
from qa_service.review.models import SearchCall, SearchHit, SearchPage
from qa_service.review.queues import evaluation_filter
from qa_service.storage.queries import among, costly_finding
from qa_service.storage.repositories.evaluations import listened_sql
from qa_service.storage.tables import Evaluation, UtteranceRow

MIN_CHARS = 2  # a single character would match most calls: no index serves it
MAX_TERMS = 5
# What separates words: ASCII white space and the ideographic space, the same set in the API's
# pattern (Python's str.split and regex engines disagree on control characters).
SEPARATORS = " \t\n\r\f\v\u3000"
_SEPARATED = re.compile(f"[{SEPARATORS}]+")
HITS_SHOWN = 3  # hits listed per call; hit_count says how many there are
# A non-admin may not search for long digit runs: the answers would tell which calls hold a
# phone or card number that every page shows them masked.
MAX_DIGITS_UNMASKED = 3
_DIGITS = re.compile(r"\d+")
# The two ways of search_calls (see there): utterances holding the words up to which the
# index's answer is used; calls read at most before the walk gives up.
RARE = 2_000
WALK_BUDGET = 50_000


def terms(q: str, masked: bool) -> list[str]:
    """The searched words: `q` split at spaces, lower-cased, each of MIN_CHARS or more."""
    words = list(dict.fromkeys(w.lower() for w in _SEPARATED.split(q) if w))
    if not words:
        raise BadInput(message("q: type a word to search for"))
    if len(words) > MAX_TERMS:
        raise BadInput(message("q: at most {n} words", n=MAX_TERMS))
    short = [w for w in words if len(w) < MIN_CHARS]
    if short:
        raise BadInput(
            message(
                "q: each word needs at least {n} characters ({word})", n=MIN_CHARS, word=short[0]
            )
        )
    if masked and any(len(d) > MAX_DIGITS_UNMASKED for w in words for d in _DIGITS.findall(w)):
        raise BadInput(
            message(
                "q: numbers of more than {n} digits are searched by an admin only",
                n=MAX_DIGITS_UNMASKED,
            )
        )
    return words


def _cased(word: str) -> bool:
    """Whether case matters to the word: it holds a letter with another case."""
    return word.upper() != word.lower()


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def tsquery_text(words: list[str]) -> str:
    """Every two-character piece of the words, ANDed, as tsquery input (each quoted)."""
    pieces = sorted({w[i : i + 2] for w in words for i in range(len(w) - 1)})
    return " & ".join("'" + p.replace("\\", "\\\\").replace("'", "''") + "'" for p in pieces)


def utterance_match(dialect: str, words: list[str], role: str | None, indexed: bool) -> list:
    """The WHERE of an utterance holding every word (and spoken by `role`); `indexed`: through
    the bigram index where there is one. The values are written into the SQL (literal_execute)
    so the planner sees how rare each piece is. A word without cased letters (Chinese, digits)
    is looked for in the text as it is: lower-casing every line the walk (_walk) reads is much
    of its cost, and changes no such match (decision 0020)."""
    conds = [
        (func.lower(UtteranceRow.text) if _cased(w) else UtteranceRow.text).like(
            bindparam(f"w{i}", _like(w), literal_execute=True), escape="\\"
        )
        for i, w in enumerate(words)
    ]
    if indexed and dialect == "postgresql":
        pieces: BindParameter[str] = bindparam("pieces", tsquery_text(words), literal_execute=True)
        conds.insert(0, func.qa_bigrams(UtteranceRow.text).op("@@")(cast(pieces, TSQUERY)))
    if role:
        conds.append(UtteranceRow.role == role)
    return conds


def _newest_first(query):
    return query.order_by(Evaluation.called_at.desc(), Evaluation.id.desc())


def _estimate(session: Session, query) -> int:
    """The planner's count of the rows `query` returns: planning only, no row read."""
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    plan = session.execute(text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _few(session: Session, dialect: str, words: list[str], match: list) -> bool:
    """Whether the index finds the words' utterances cheaply: some two-character piece of the
    words is in few utterances (about RARE at most; the index reads every entry of the piece
    it starts from). Else the calls are walked instead (_walk). PostgreSQL judges a piece by
    the planner's estimate (from the bigram index's statistics; counting a common piece's rows
    costs more than the whole search); SQLite counts, stopping at RARE + 1."""
    if dialect != "postgresql":
        limited = select(UtteranceRow.id).where(*match).limit(RARE + 1).subquery()
        return session.exec(select(func.count()).select_from(limited)).one() <= RARE
    bigrams = func.qa_bigrams(UtteranceRow.text)
    return any(
        _estimate(
            session,
            select(UtteranceRow.id).where(
                bigrams.op("@@")(cast(literal(tsquery_text([piece]), String), TSQUERY))
            ),
        )
        <= RARE
        for piece in sorted({w[i : i + 2] for w in words for i in range(len(w) - 1)})
    )


def _walk(
    session: Session, dialect: str, where: list, plain: list, need: int
) -> tuple[list[int], bool] | None:
    """The first `need` matching evaluations' ids, newest call first, found by walking the
    calls the filters select, newest first, and looking into each one's transcript until
    `need` hold the words: cheap when many calls hold them. One statement: PostgreSQL looks
    into each call through a LATERAL subquery (with EXISTS its planner would hash the whole
    utterance table), SQLite through a correlated EXISTS. Returns (ids, every call was read);
    None when the first WALK_BUDGET calls hold fewer than `need` (the words are rare among
    these calls)."""
    calls = _newest_first(
        select(Evaluation.id, Evaluation.recording_id, Evaluation.called_at).where(*where)
    )
    walked = calls.limit(WALK_BUDGET).subquery()
    said = select(UtteranceRow.recording_id).where(
        UtteranceRow.recording_id == walked.c.recording_id, *plain
    )
    found = select(walked.c.id)
    if dialect == "postgresql":
        found = found.join_from(walked, said.limit(1).lateral(), true())
    else:
        found = found.where(said.exists())
    ids = list(
        session.exec(
            found.order_by(walked.c.called_at.desc(), walked.c.id.desc()).limit(need)
        ).all()
    )
    if len(ids) == need:
        return ids, False
    read = session.exec(
        select(func.count()).select_from(
            select(Evaluation.id).where(*where).limit(WALK_BUDGET).subquery()
        )
    ).one()
    return (ids, True) if read < WALK_BUDGET else None


def search_calls(
    session: Session,
    q: str,
    low_confidence: float,
    count_limit: int,
    page: int = 1,
    page_size: int = 50,
    masked: bool = True,
    role: str | None = None,
    flagged: bool | None = None,
    rule: str | None = None,
    reviewed: bool | None = None,
    **criteria,
) -> SearchPage:
    """A page of the matching calls (current evaluations, newest first) and how many match
    (up to `count_limit`; where many calls match, counted only as far as this page needed:
    `total_exact` false). `criteria`: queues.evaluation_filter's (project, agent, rubric_id,
    grade, since, until, agents).

    Two ways, chosen by how often the words' pieces occur (_few): rare, the index gives the
    utterances and so the calls, which the filters then keep or not; common, the filtered
    calls are read newest first and their transcripts looked into until the page is full
    (_walk). Where the walk reads WALK_BUDGET calls and still has no page (common pieces,
    filters that keep few calls holding the words), the first way answers after all."""
    words = terms(q, masked)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # compiling these short queries just in time costs seconds: the functions' high cost
        # (migration 0014) would otherwise cross jit_above_cost
        session.execute(text("SET LOCAL jit = off"))
    match = utterance_match(dialect, words, role, indexed=True)
    plain = utterance_match(dialect, words, role, indexed=False)
    where = evaluation_filter(**criteria)
    if flagged is not None:
        cond = Evaluation.flagged_sql(low_confidence)
        where.append(cond if flagged else ~cond)
    if reviewed is not None:
        where.append(listened_sql(listened=reviewed))
    if rule:
        where.append(costly_finding(rule))
    offset = (page - 1) * page_size
    holding = select(UtteranceRow.recording_id).where(*match)
    walked = None
    if not _few(session, dialect, words, match):
        walked = _walk(session, dialect, where, plain, offset + page_size + 1)
    if walked is not None:
        ids, exact = walked
    else:
        # few calls hold the words (or the walk gave up): every one the filters keep, at once
        found = session.exec(
            select(Evaluation.id, Evaluation.called_at).where(
                *where, Evaluation.recording_id.in_(holding)
            )
        ).all()
        ids = [i for i, _ in sorted(found, key=lambda r: (r[1], r[0]), reverse=True)]
        exact = True
    total = min(len(ids), count_limit)
    exact = exact and len(ids) <= count_limit
    shown = ids[offset : offset + page_size]
    by_id = {ev.id: ev for ev in session.exec(select(Evaluation).where(Evaluation.id.in_(shown)))}
    rows = [by_id[i] for i in shown]
    hits: dict[int, list[UtteranceRow]] = defaultdict(list)
    if rows:
        for u in session.exec(
            select(UtteranceRow)
            .where(
                among(UtteranceRow.recording_id, {ev.recording_id for ev in rows}, dialect), *plain
            )
            .order_by(UtteranceRow.recording_id, UtteranceRow.seq)
        ).all():
            hits[u.recording_id].append(u)
    heard = set(
        session.exec(
            select(Evaluation.recording_id).where(
                Evaluation.id.in_([ev.id for ev in rows]), listened_sql()
            )
        ).all()
    )
    items = [
        SearchCall.of(
            ev,
            low_confidence,
            ev.recording_id in heard,
            hit_count=len(hits[ev.recording_id]),
            hits=[
                SearchHit(seq=u.seq, role=u.role, start=u.start, end=u.end, text=u.text)
                for u in hits[ev.recording_id][:HITS_SHOWN]
            ],
        )
        for ev in rows
    ]
    return SearchPage(
        q=" ".join(words),
        total=total,
        total_exact=exact,
        page=page,
        page_size=page_size,
        items=items,
    )
