"""Search across calls (GET /search) on SQLite and PostgreSQL: Chinese words in the
transcripts, several words in one utterance, the lists' filters, an agent's own calls only,
the hits where the call page opens, clear errors; on PostgreSQL the bigram index serves it."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.keys import create_key
from qa_service.app.people import create_user
from qa_service.config import Settings
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.review import search
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from tests.support import RUBRICS, web_sign_in

BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"])
RUBRIC_ID = "telecom-data-upgrade"
OPENING = U("agent", 0.5, 2.0, "您好，我是中国电信客户经理，给您介绍一下畅享套餐")
CLOSING = U("agent", 20.0, 21.0, "感谢您的接听，再见")
# (name, agent, project, hour, utterances between the opening and the closing)
CALLS = [
    (
        "refund",
        "A1",
        "p",
        9,
        [
            U("customer", 3.0, 5.0, "我上个月的流量费能退款吗"),
            U("agent", 5.5, 8.0, "退款要到营业厅办理"),
        ],
    ),
    ("complaint", "A1", "p", 10, [U("customer", 3.0, 6.0, "我要投诉，你们乱扣费，还不给退款")]),
    ("plain", "A2", "p", 11, [U("customer", 3.0, 4.0, "不需要，谢谢")]),
    ("other", "A3", "q", 12, [U("customer", 3.0, 5.0, "退款的事情我再想想")]),
    ("percent", "A2", "p", 13, [U("customer", 3.0, 5.0, "打九折就是百分之90吧，a_b 100%")]),
]


def _seed(tmp_path, url):
    store = Store(url)
    rubric = load_rubric(RUBRICS / f"{RUBRIC_ID}.yaml")
    store.rubrics.save(rubric, (RUBRICS / f"{RUBRIC_ID}.yaml").read_text(encoding="utf-8"))
    ids = {}
    for i, (name, agent, project, hour, middle) in enumerate(CALLS):
        utts = [OPENING, *middle, CLOSING]
        meta = CallMetadata(
            agent_id=agent, project=project, call_time=datetime(2026, 11, 20, hour, 0)
        )
        rec = store.recordings.save_transcript(
            f"{i:02d}" * 32, f"{name}.wav", meta, 22.0, 2, "stereo", "hand-made", utts
        )
        ev = record_evaluation(store, rec.id, evaluate(f"{name}.wav", utts, 22.0, Scorer(rubric)))
        ids[name] = ev.id
    create_user(store, "agent1", "agent-password-1", "agent", agent_id="A1")
    keys = {role: create_key(store, role, role)[1] for role in ("admin", "viewer")}
    return store, ids, keys, Settings(database_url=url, redis_url="", storage_dir=tmp_path)


def _names(body, ids):
    by_id = {v: k for k, v in ids.items()}
    return [by_id[item["evaluation_id"]] for item in body["items"]]


# search_calls' three ways on every backend: the index's answer (few utterances hold the
# words), the walk through the newest calls (many do), the database's join
# (the walk gave up).
WAYS = {
    "index": {},
    "walk": {"RARE": 0},
    "join": {"RARE": 0, "WALK_BUDGET": 1},
}


@BACKENDS
@pytest.mark.parametrize("way", list(WAYS))
def test_search_finds_words_with_filters_and_hits(request, tmp_path, backend, way, monkeypatch):
    for name, value in WAYS[way].items():
        monkeypatch.setattr(search, name, value)
    store, ids, keys, settings = _seed(tmp_path, request.getfixturevalue(f"{backend}_url"))
    viewer = {"X-API-Key": keys["viewer"]}
    with TestClient(create_app(settings)) as client:

        def find(**params):
            r = client.get("/search", params=params, headers=viewer)
            assert r.status_code == 200, r.text
            return r.json()

        body = find(q="退款")
        assert _names(body, ids) == ["other", "complaint", "refund"]  # newest first
        assert body["total"] == 3 and body["total_exact"]  # the walk read every call
        refund = body["items"][2]
        assert refund["hit_count"] == 2
        assert [(h["seq"], h["start"], h["role"]) for h in refund["hits"]] == [
            (1, 3.0, "customer"),
            (2, 5.5, "agent"),
        ]
        assert refund["hits"][0]["text"] == "我上个月的流量费能退款吗"
        # every word in one utterance; a word of three characters
        assert _names(find(q="投诉 退款"), ids) == ["complaint"]
        assert _names(find(q="退款 营业厅"), ids) == ["refund"]
        assert _names(find(q="流量费"), ids) == ["refund"]
        assert _names(find(q="退款", role="agent"), ids) == ["refund"]
        # the lists' filters
        assert _names(find(q="退款", project="q"), ids) == ["other"]
        assert _names(find(q="退款", agent="A1"), ids) == ["complaint", "refund"]
        assert _names(
            find(q="退款", since="2026-11-20T09:30:00", until="2026-11-20T11:30:00"), ids
        ) == ["complaint"]
        flagged = {
            i["evaluation_id"] for i in client.get("/flagged", headers=viewer).json()["items"]
        }
        found = {i["evaluation_id"] for i in find(q="您好", flagged=True)["items"]}
        assert found == flagged and found  # every call opens with 您好: the flagged ones
        assert len(find(q="您好")["items"]) == len(CALLS)
        # paging
        first, page2 = find(q="您好", page_size=2), find(q="您好", page=2, page_size=2)
        assert len(page2["items"]) == 2
        assert _names(first, ids) + _names(page2, ids) == _names(find(q="您好"), ids)[:4]
        if way == "walk":  # counted as far as the page needed: at least one more call
            assert page2["total"] == 5 and not page2["total_exact"]
        else:
            assert page2["total"] == len(CALLS) and page2["total_exact"]
        # LIKE's wildcards are plain characters; Latin letters match in any case
        assert _names(find(q="100%"), ids) == ["percent"]
        assert _names(find(q="A_B"), ids) == ["percent"]
        assert find(q="%%")["items"] == [] and find(q="__")["items"] == []
        assert find(q="没有的词")["total"] == 0


@BACKENDS
def test_search_errors_and_an_agents_own_calls(request, tmp_path, backend):
    store, ids, keys, settings = _seed(tmp_path, request.getfixturevalue(f"{backend}_url"))
    viewer, admin = ({"X-API-Key": keys[r]} for r in ("viewer", "admin"))
    with TestClient(create_app(settings)) as client:
        for q, field in (("退", "q"), ("   ", "q"), ("a b c d e f", "q")):
            r = client.get("/search", params={"q": q}, headers=viewer)
            assert r.status_code == 422, (q, r.text)
            assert field in r.text
        assert (
            client.get("/search", params={"q": "退款", "role": "any"}, headers=viewer).status_code
            == 422
        )
        # a number of four digits is an admin's to search (the pages mask numbers)
        assert client.get("/search", params={"q": "1381"}, headers=viewer).status_code == 422
        assert client.get("/search", params={"q": "1381"}, headers=admin).status_code == 200
        assert client.get("/search", params={"q": "百分之90"}, headers=viewer).status_code == 200
        assert client.get("/search", params={"q": "退款"}).status_code == 401
        # an agent finds their own calls only
        r = web_sign_in(client, name="agent1", password="agent-password-1")
        assert r.status_code == 303, r.text
        mine = client.get("/search", params={"q": "退款"})
        assert mine.status_code == 200, mine.text
        assert _names(mine.json(), ids) == ["complaint", "refund"]


def test_postgres_serves_search_from_the_bigram_index(postgres_url, tmp_path):
    store, ids, keys, settings = _seed(tmp_path, postgres_url)
    with store.engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text(
                    "EXPLAIN SELECT id FROM utterance "
                    "WHERE qa_bigrams(text) @@ CAST('''退款''' AS tsquery)"
                )
            )
        )
        assert "ix_utterance_text_bigrams" in plan, plan
        bigrams = conn.execute(text("SELECT qa_bigrams('退款OK')::text")).scalar_one()
        assert set(re.findall(r"'([^']*)'", bigrams)) == {"退款", "款o", "ok"}
        # the planner's estimate of a piece's utterances, which chooses the way, samples finely
        target = conn.execute(
            text(
                "SELECT attstattarget FROM pg_attribute"
                " WHERE attrelid = 'ix_utterance_text_bigrams'::regclass"
            )
        ).scalar_one()
        assert target == 1000
