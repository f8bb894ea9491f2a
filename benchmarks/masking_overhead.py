"""What masking every non-admin answer costs (qa_service/api/masking.py): the same requests as a
viewer (masked) and as an admin (served raw), in process over SQLite, on the largest answers:
a page of 500 evaluations, a 600-utterance transcript full of numbers and its evaluation, the
wrap-up. Prints the median of each and the masking step's own time on the answer's body.

    python benchmarks/masking_overhead.py [--calls 500] [--utterances 600] [--requests 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402

from qa_service.api import create_app  # noqa: E402
from qa_service.api.masking import mask_body  # noqa: E402
from qa_service.app.evaluations import record_evaluation  # noqa: E402
from qa_service.app.keys import create_key  # noqa: E402
from qa_service.config import Settings  # noqa: E402
from qa_service.domain.metadata import CallMetadata  # noqa: E402
from qa_service.domain.results import Utterance as U  # noqa: E402
from qa_service.rules.rubric import load_rubric  # noqa: E402
from qa_service.rules.scoring import Scorer, evaluate  # noqa: E402
from qa_service.storage.store import Store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LINES = [
    "您好，我是中国电信客户经理，给您介绍一下畅享套餐",
    "我的手机是一三八，嗯，一二三四，五六七八",
    "每月九十六元，合约期是十二个月，预存一百六十八元",
    "身份证110101199003077777，卡号6222 0212 3456 7890 123",
    "好的，2026年11月20日之前办理，分三期，六期，十二期都可以",
]


def seed(url: str, calls: int, utterances: int) -> tuple[int, int]:
    store = Store(url, migrate=True)
    path = ROOT / "rubrics" / "telecom-data-upgrade.yaml"
    rubric = load_rubric(path)
    store.rubrics.save(rubric, path.read_text(encoding="utf-8"))
    scorer = Scorer(rubric)
    start = datetime(2026, 11, 20, 9)
    short = [
        U("agent" if i % 2 == 0 else "customer", i * 3.0, i * 3.0 + 2.5, t)
        for i, t in enumerate(LINES)
    ]
    for i in range(calls):
        meta = CallMetadata(
            agent_id=f"A{i % 20}", project="p", call_time=start + timedelta(minutes=i)
        )
        rec = store.recordings.save_transcript(
            f"{i:064x}", f"c{i}.wav", meta, 20.0, 2, "stereo", "bench", short
        )
        record_evaluation(store, rec.id, evaluate(f"c{i}.wav", short, 20.0, scorer))
    long = [
        U("agent" if i % 2 == 0 else "customer", i * 3.0, i * 3.0 + 2.5, LINES[i % len(LINES)])
        for i in range(utterances)
    ]
    meta = CallMetadata(agent_id="A0", project="p", call_time=start)
    rec = store.recordings.save_transcript(
        "f" * 64, "long.wav", meta, utterances * 3.0, 2, "stereo", "bench", long
    )
    ev = record_evaluation(store, rec.id, evaluate("long.wav", long, utterances * 3.0, scorer))
    return rec.id, ev.id


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--utterances", type=int, default=600)
    ap.add_argument("--requests", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/qa.db"
        recording_id, _ = seed(url, args.calls, args.utterances)
        store = Store(url)
        keys = {r: {"X-API-Key": create_key(store, r, r)[1]} for r in ("admin", "viewer")}
        settings = Settings(database_url=url, redis_url=None, storage_dir=Path(tmp) / "s")
        with TestClient(create_app(settings)) as client:
            evaluation_id = client.get(f"/recordings/{recording_id}", headers=keys["admin"]).json()[
                "evaluations"
            ][0]["id"]
            routes = [
                ("/evaluations", {"page_size": 500}),
                (f"/recordings/{recording_id}/transcript", {}),
                (f"/evaluations/{evaluation_id}", {}),
                ("/projects/p/wrapup", {}),
            ]
            print(f"{'route':44} {'KB':>6} {'admin ms':>9} {'viewer ms':>10} {'mask ms':>8}")
            for route, params in routes:
                times = {}
                for role in ("admin", "viewer"):
                    samples = []
                    for _ in range(args.requests):
                        t0 = time.perf_counter()
                        r = client.get(route, params=params, headers=keys[role])
                        samples.append((time.perf_counter() - t0) * 1000)
                        assert r.status_code == 200, r.text
                    times[role] = statistics.median(samples)
                    if role == "admin":
                        body, ctype = r.content, r.headers["content-type"]
                t0 = time.perf_counter()
                for _ in range(args.requests):
                    mask_body(body, ctype)
                own = (time.perf_counter() - t0) * 1000 / args.requests
                print(
                    f"{route + ('?page_size=500' if params else ''):44} {len(body) / 1024:6.0f} "
                    f"{times['admin']:9.1f} {times['viewer']:10.1f} {own:8.1f}"
                )


if __name__ == "__main__":
    main()
