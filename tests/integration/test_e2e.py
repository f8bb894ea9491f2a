"""End to end with the real model: audio files in, stored and printed results out."""

import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from qa_service.cli import app
from qa_service.i18n import message
from qa_service.storage.store import Store
from qa_service.storage.tables import Evaluation, Recording
from tests.support import ROOT, RUBRICS, SAMPLES, bad_files, said

TELECOM = SAMPLES / "telecom-data-upgrade"
RESULT_FIELDS = {
    "recording",
    "rubric",
    "score",
    "grade",
    "fatal",
    "outcome",
    "duration",
    "findings",
    "utterances",
    "highlights",
}


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def telecom_db(tmp_path_factory, recognizer):
    """All telecom samples scored once through the CLI into one SQLite file."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'qa.db'}"
    code, out = cli(
        "score",
        TELECOM,
        "--rubric",
        RUBRICS / "telecom-data-upgrade.yaml",
        "--format",
        "json",
        "--db",
        url,
    )
    assert code == 0, out
    return url, {os.path.basename(r["recording"]): r for r in json.loads(out)}


def by_rule(result):
    return {f["rule_id"]: f for f in result["findings"]}


def test_results_follow_the_spec(telecom_db):
    _, results = telecom_db
    assert len(results) == 4
    for r in results.values():
        assert RESULT_FIELDS <= set(r)
        assert r["rubric"] == {"id": "telecom-data-upgrade", "version": 1}
        assert r["grade"] in ("excellent", "pass", "fail") and r["outcome"] in (
            "success",
            "refusal",
            "unknown",
        )
        for f in r["findings"]:
            assert f["category"] in (
                "script_section",
                "mandatory_point",
                "forbidden_phrase",
                "attitude_error",
                "objection",
                "silence",
                "interruption",
                "speech_rate",
            )
            if f["status"] in ("hit", "violation"):
                assert f["evidence"] and {"role", "start", "end", "text"} <= set(f["evidence"][0])
        roles = {u["role"] for u in r["utterances"]}
        assert roles == {"agent", "customer"}


def test_model_call_is_excellent(telecom_db):
    _, results = telecom_db
    r = results["telecom-upgrade_A017_20261120-091403.wav"]
    assert r["grade"] == "excellent" and r["outcome"] == "success" and r["score"] >= 95
    assert by_rule(r)["too_expensive"]["status"] == "handled"
    assert "objection_handled:too_expensive" in {h["reason"] for h in r["highlights"]}
    fee = by_rule(r)["monthly_fee"]
    assert fee["status"] == "hit" and fee["evidence"][0]["role"] == "agent"
    assert r["agent_id"] == "A017" and r["project"] == "telecom-upgrade"


def test_fatal_call(telecom_db):
    _, results = telecom_db
    r = results["telecom-upgrade_A021_20261120-102211.mp3"]
    assert r["fatal"] and r["score"] == 0 and r["grade"] == "fail" and r["outcome"] == "refusal"
    rules = by_rule(r)
    assert rules["false_promise"]["severity"] == "fatal" and rules["rude"]["status"] == "violation"
    assert rules["rude"]["evidence"][0]["role"] == "agent"


def test_hangup_call(telecom_db):
    _, results = telecom_db
    r = results["telecom-upgrade_A033_20261121-160812.wav"]
    hangup = by_rule(r)["hangup"]
    assert hangup["status"] == "violation" and hangup["evidence"][0]["role"] == "customer"
    assert r["grade"] == "fail"


def test_mono_trial_call(telecom_db):
    url, results = telecom_db
    r = results["telecom-upgrade_A017_20261121-143005_trial.wav"]
    assert r["outcome"] == "success"
    assert by_rule(r)["fraud_suspect"]["status"] == "handled"
    assert by_rule(r)["greeting"]["status"] == "hit"
    store = Store(url)
    (rec,) = [x for x in store.recordings.all(phase="trial")]
    assert rec.channels == 1 and rec.separation == "mono" and rec.agent_id == "A017"


def test_same_file_twice_is_one_recording(telecom_db):
    url, _ = telecom_db
    before = Store(url).count(Recording)
    code, out = cli(
        "score",
        TELECOM / "telecom-upgrade_A017_20261120-091403.wav",
        "--rubric",
        RUBRICS / "telecom-data-upgrade.yaml",
        "--format",
        "json",
        "--db",
        url,
    )
    assert code == 0 and json.loads(out)[0]["grade"] == "excellent"
    assert Store(url).count(Recording) == before


def test_rescore_reuses_stored_transcripts(telecom_db, tmp_path):
    """A new rubric version on every stored call, in a process that has no model at all."""
    url, results = telecom_db
    v2 = tmp_path / "v2.yaml"
    text = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
    v2.write_text(
        text.replace("version: 1", "version: 2").replace(
            "{id: greeting, name: 首问语, any: [您好, 你好], within_first: 2, weight: 5}",
            "{id: greeting, name: 首问语, any: [尊敬的客户], within_first: 2, weight: 30}",
        ),
        encoding="utf-8",
    )
    env = dict(os.environ, QA_MODEL=str(tmp_path / "no-model-here"), QA_DATABASE_URL=url)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_service.cli",
            "rescore",
            "--rubric",
            str(v2),
            "--project",
            "telecom-upgrade",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rescored = {os.path.basename(r["recording"]): r for r in json.loads(proc.stdout)}
    assert set(rescored) == set(results)
    for name, r in rescored.items():
        assert r["rubric"]["version"] == 2
        assert r["utterances"] == results[name]["utterances"]  # the same transcript
    model_call = rescored["telecom-upgrade_A017_20261120-091403.wav"]
    assert model_call["score"] == 70 and model_call["grade"] == "fail"
    store = Store(url)
    assert {e.rubric_version for e in store.evaluations.all("telecom-data-upgrade")} == {1, 2}


def test_bad_inputs_do_not_cost_the_batch(telecom_db, tmp_path):
    url, _ = telecom_db
    bad = bad_files(tmp_path)
    good = TELECOM / "telecom-upgrade_A017_20261120-091403.wav"
    evaluations_before = Store(url).count(Evaluation)
    paths = [p for p, _ in bad.values()] + [good]
    code, out = cli(
        "score",
        *paths,
        "--rubric",
        RUBRICS / "telecom-data-upgrade.yaml",
        "--format",
        "json",
        "--db",
        url,
    )
    assert code == 2
    results = {r["recording"]: r for r in json.loads(out)}
    for path, expected in bad.values():
        assert "error" in results[str(path)] and expected in results[str(path)]["error"]
        assert str(path) in results[str(path)]["error"]
    assert results[str(good)]["grade"] == "excellent"
    assert Store(url).count(Evaluation) == evaluations_before  # nothing stored was lost


def test_bad_rubric_is_refused_without_traceback(tmp_path):
    rubric = tmp_path / "bad.yaml"
    rubric.write_text(
        "id: x\nforbidden_phrases:\n  - {id: f, regex: ['(赚'], deduct: 5}\n"
        "  - {id: f, any: [滚], deduct: 5}\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_service.cli",
            "score",
            str(TELECOM),
            "--rubric",
            str(rubric),
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.search(
        re.escape(f"{rubric}:3: ") + r"\S+: " + said("bad regex {pattern}: {reason}"), proc.stderr
    )
    first = message(
        "duplicate id {id} (first used in {where})", id="'f'", where="forbidden_phrases[0]"
    )
    assert f"{rubric}:4: forbidden_phrases[1].id: {first}" in proc.stderr


def test_demo_prints_table_and_summary(telecom_db, tmp_path):
    code, out = cli(
        "demo",
        "--rubrics",
        RUBRICS,
        "--samples",
        SAMPLES,
        "--db",
        f"sqlite:///{tmp_path / 'demo.db'}",
    )
    assert code == 0, out
    assert message("calls {n}", n=8) in out
    assert re.search(said("machine pass rate {rate}") + ".+" + said("excellent rate {rate}"), out)
    for name in ("care_C002", "survey_B005", "telecom-upgrade_A021"):
        assert name in out


def test_changed_rubric_under_the_same_version_is_refused(telecom_db, tmp_path):
    url, _ = telecom_db
    edited = tmp_path / "edited.yaml"
    edited.write_text(
        (RUBRICS / "telecom-data-upgrade.yaml")
        .read_text(encoding="utf-8")
        .replace("pass_score: 80", "pass_score: 70"),
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "qa_service.cli", "rescore", "--rubric", str(edited), "--db", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        message(
            "rubric {rubric} version {version} is already stored with other content; raise {field} "
            "to store a change",
            rubric="telecom-data-upgrade",
            version=1,
            field="`version`",
        )
        in proc.stderr
    )


def test_mono_survey_call_without_decoding_loops(tmp_path, recognizer):
    """This 8 kbps mono call sent the batched decoder into a loop ("带带带带…", and on other
    CPUs, or this one under load, "宽帅 宽帅 宽帅" for the whole call); the window is decoded
    again (faster-whisper's VAD path, then temperature fallback) and the call keeps its words."""
    from qa_service.asr.transcribe import degenerate

    path = SAMPLES / "broadband-satisfaction-survey" / "survey_B009_20261120-094500.mp3"
    code, out = cli(
        "score",
        path,
        "--rubric",
        RUBRICS / "satisfaction-survey.yaml",
        "--format",
        "json",
        "--db",
        f"sqlite:///{tmp_path / 'qa.db'}",
    )
    assert code == 0, out
    (r,) = json.loads(out)
    assert not any(degenerate(u["text"]) for u in r["utterances"])
    assert r["utterances"][-1]["role"] == "agent" and r["utterances"][-1]["end"] > 25
    rules = by_rule(r)
    assert rules["lead_answer"]["status"] == "violation"  # 您就打十分吧
    # q_install (对装维师傅的服务满意吗) is not asserted: the fallback's wording of that line
    # varies between runs ("您对中美师傅的服务满意吗" / "…买入门"); the call's other rules hold.
    assert len(r["utterances"]) >= 9  # 11 turns
    assert rules["q_score"]["status"] == "hit" and rules["q_speed"]["status"] == "missed"


def test_loop_detector():
    from qa_service.asr.transcribe import degenerate

    assert degenerate("我去带带带带带带带带带") and degenerate("您好您好您好您好您好您好")
    assert not degenerate("对对对对，好的") and not degenerate("每个月只要96元")
    assert degenerate("abc", compression_ratio=3.0)
    # a phrase looped (seen over two turns of a noisy mono mp3), under the compression ratio
    assert degenerate("得约到七十八年 肯预存一百年 肯预存一百年 肯预存一百年 肯预存一百年 文")
    assert not degenerate("我这边直接为您办理可以吗 我这边直接为您办理可以吗 好的")
