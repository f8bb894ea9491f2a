"""A rescore killed with SIGKILL midway (the process and its pool, as an OOM kill or a node
loss would) leaves whole batches stored and the rest as they were; running it again finishes
with exactly the rows an uninterrupted rescore stores (app/batches.py: one transaction per
batch, each written by the pool worker that evaluated it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter

from sqlalchemy import text

from qa_service.app.scoring import QAService
from qa_service.config import Settings
from qa_service.rules.rubric import load_rubric
from qa_service.storage.store import Store
from tests.integration.test_rescore_pool import RUBRIC, rows, stored_calls
from tests.support import ROOT

BATCH = 4  # calls per pool task: one transaction each
# The rescore in its own process; each reported call waits a little, so that the parent
# submits batches slowly enough for the kill to land midway.
RESCORE = textwrap.dedent(
    """
    import sys, time
    from qa_service.app.scoring import QAService
    from qa_service.config import Settings
    from qa_service.rules.rubric import load_rubric
    from qa_service.storage.store import Store

    def progress(outcome):
        print(outcome.result.recording_id, flush=True)
        time.sleep(0.3)

    store = Store(sys.argv[1])
    QAService(store, Settings(rescore_workers=2)).rescore(
        load_rubric(sys.argv[2]), "p", progress, batch=int(sys.argv[3])
    )
    """
)


def second_version(tmp_path):
    """Version 2 of the rubric, the closing section weighing more: other scores and grades."""
    source = RUBRIC.read_text("utf-8")
    assert "version: 1\n" in source and "帮您办理, 为您办理], weight: 5}" in source
    path = tmp_path / "v2.yaml"
    path.write_text(
        source.replace("version: 1\n", "version: 2\n").replace(
            "帮您办理, 为您办理], weight: 5}", "帮您办理, 为您办理], weight: 25}"
        ),
        "utf-8",
    )
    return path


def findings_per_evaluation(store: Store, version: int) -> dict[str, int]:
    """recording sha256 -> findings of its evaluation with this rubric version."""
    with store.engine.connect() as conn:
        found = conn.execute(
            text(
                "select r.sha256, count(f.id) from evaluation e"
                " join recording r on r.id = e.recording_id"
                " left join finding f on f.evaluation_id = e.id"
                " where e.rubric_version = :v group by r.sha256"
            ),
            {"v": version},
        )
        return dict(found.all())


def current_versions(store: Store) -> Counter[int]:
    with store.engine.connect() as conn:
        return Counter(
            conn.execute(text("select rubric_version from evaluation where is_current")).scalars()
        )


def test_a_rescore_killed_midway_keeps_whole_batches_and_finishes_when_run_again(
    tmp_path, postgres_url
):
    v1, v2_path = load_rubric(RUBRIC), second_version(tmp_path)
    v2 = load_rubric(v2_path)
    reference = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    pooled = Store(postgres_url)
    for store in (reference, pooled):
        stored_calls(store)
        QAService(store, Settings(rescore_workers=2)).rescore(v1, "p", batch=10)
    QAService(reference, Settings(rescore_workers=1)).rescore(v2, "p", batch=10)
    whole = findings_per_evaluation(reference, 2)
    before = rows(pooled)

    proc = subprocess.Popen(
        [sys.executable, "-c", RESCORE, postgres_url, str(v2_path), str(BATCH)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        start_new_session=True,  # its pool workers share its process group
    )
    assert proc.stdout is not None
    reported = [proc.stdout.readline() for _ in range(6)]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert all(line.strip() for line in reported), reported

    stored = findings_per_evaluation(pooled, 2)
    assert 0 < len(stored) < len(whole), "the kill should land midway"
    assert len(stored) % BATCH == 0, "only whole batches are stored"
    assert {sha: stored[sha] for sha in stored} == {sha: whole[sha] for sha in stored}
    # the calls not reached keep their version 1 evaluation as their current one
    assert current_versions(pooled) == Counter({2: len(stored), 1: len(whole) - len(stored)})
    assert rows(pooled)[0] != before[0]

    again = QAService(pooled, Settings(rescore_workers=2)).rescore(v2, "p", batch=BATCH)
    assert len(again) == len(whole)
    assert findings_per_evaluation(pooled, 2) == whole
    assert rows(pooled) == rows(reference)
