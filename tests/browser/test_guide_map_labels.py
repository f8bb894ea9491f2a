"""The guide map's labels (试呼分析) in a real Chromium, on a wide screen and a phone: selling
points at the same or nearly the same place, with long names, get labels that neither run
into each other nor into another point's marker, and stay inside the chart, whole."""

from __future__ import annotations

import pytest

from qa_service.app.evaluations import record_evaluation
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.rules.rubric import parse_rubric
from qa_service.rules.scoring import Scorer, evaluate
from tests.browser.test_second_pass import PHONE, WIDE, _open

PROJECT = "guide-labels"
CALLS = 10
# (id, name, calls that say it, of which the customer then agrees; the others refuse): ten
# calls, so points lie at (1.0, 1.0) twice, (0.9, 1.0), (0.5, 1.0) twice, (0.4, 1.0), ...
POINTS = [
    ("double", "告知本月办理即可享受流量翻倍优惠", 10, 10),
    ("term", "说明合约期内不可降档及违约责任", 10, 10),
    ("speedup", "介绍宽带提速免费上门服务", 9, 9),
    ("current", "确认客户当前套餐与月消费情况", 5, 5),
    ("family", "询问客户家庭成员的使用需求", 5, 5),
    ("hotline", "告知客服热线与线上办理渠道", 4, 4),
    ("confirm", "提醒客户短信确认后方可生效", 5, 4),
    ("prestore", "说明预存话费分月返还规则", 1, 1),
    ("share", "介绍副卡共享流量的办理方式", 10, 9),
    ("gift", "告知赠送视频会员的领取方法", 6, 3),
]
RUBRIC = "id: guide-labels\nname: 引导地图标签测试\nmandatory_points:\n" + "".join(
    f"  - {{id: {pid}, name: {name}, any: [{name}]}}\n" for pid, name, _, _ in POINTS
)

# Every label's rectangle in the chart's pixels, its text, and the markers' centers and sizes,
# from ECharts' own elements (what is drawn, after its label layout).
DRAWN = """() => {
  const chart = echarts.getInstanceByDom(document.querySelector('#guide-map'));
  const data = chart.getModel().getSeriesByIndex(0).getData();
  const out = {width: chart.getWidth(), height: chart.getHeight(), labels: [], markers: []};
  for (let i = 0; i < data.count(); i++) {
    const el = data.getItemGraphicEl(i).getSymbolPath();
    const label = el.getTextContent();
    const r = label.getBoundingRect().clone();
    r.applyTransform(label.getComputedTransform());
    out.labels.push({text: label.style.text, ignored: !!label.ignore || label.invisible,
                     fontSize: label.style.fontSize, x: r.x, y: r.y, w: r.width, h: r.height});
    const m = el.getBoundingRect().clone();
    m.applyTransform(el.getComputedTransform());
    out.markers.push({x: m.x, y: m.y, w: m.width, h: m.height});
  }
  return out;
}"""


@pytest.fixture(scope="module")
def crowded_project(web_data):
    """Ten trial calls: call c says a point (its name) when c < its count; the customer agrees
    to it in the first `agreed` of those calls and refuses it in the rest."""
    store = web_data["store"]
    rubric = parse_rubric(RUBRIC, "guide-labels")
    store.rubrics.save(rubric, RUBRIC)
    store.rubrics.activate(PROJECT, rubric.id, rubric.version)
    scorer = Scorer(rubric)
    for c in range(CALLS):
        utts, t = [], 0.0
        for _, name, said, agreed in POINTS:
            if c < said:
                reply = "好的，可以" if c < agreed else "不需要，谢谢"
                utts += [U("agent", t, t + 2, name), U("customer", t + 2.5, t + 4, reply)]
                t += 5
        meta = CallMetadata(agent_id=f"G{c}", project=PROJECT, phase="trial")
        rec = store.recordings.save_transcript(
            f"{0x6A1DE00 + c:064x}", f"guide-{c}", meta, t + 5, 2, "stereo", "hand-made", utts
        )
        record_evaluation(store, rec.id, evaluate(f"guide-{c}", utts, t + 5, scorer))
    return PROJECT


def _overlap(a, b, slack=0.5) -> bool:
    return (
        a["x"] + slack < b["x"] + b["w"]
        and b["x"] + slack < a["x"] + a["w"]
        and a["y"] + slack < b["y"] + b["h"]
        and b["y"] + slack < a["y"] + a["h"]
    )


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])
def test_guide_map_labels_do_not_overlap_and_stay_inside(
    browser, server, web_data, api_get, crowded_project, viewport, shot
):
    api = api_get(f"/projects/{crowded_project}/trial?phase=trial")["guide_map"]
    places = {(p["said_rate"], p["positive_rate"]) for p in api}
    assert (1.0, 1.0) in places and (0.9, 1.0) in places and (0.5, 1.0) in places, places
    context, page = _open(browser, server, web_data, viewport, role="viewer")
    page.goto(server + f"/trial?project={crowded_project}")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    page.locator("#guide-map").scroll_into_view_if_needed()
    # the label layout is final once two reads a moment apart agree
    drawn, before = None, page.evaluate(DRAWN)
    for _ in range(20):
        page.wait_for_timeout(250)
        drawn = page.evaluate(DRAWN)
        if drawn == before:
            break
        before = drawn
    shot(page, f"trial-guide-labels-{viewport['width']}")
    labels, markers = drawn["labels"], drawn["markers"]
    assert len(labels) == len(places)
    # every name is shown whole, in a readable size
    shown = "".join(label["text"].replace("\n", "") for label in labels)
    for _, name, _, _ in POINTS:
        assert name in shown, (name, shown)
    for label in labels:
        assert not label["ignored"] and label["fontSize"] >= 12, label
        assert label["x"] >= 0 and label["y"] >= 0, label
        assert label["x"] + label["w"] <= drawn["width"], (label, drawn["width"])
        assert label["y"] + label["h"] <= drawn["height"], (label, drawn["height"])
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not _overlap(a, b), (a, b)
        for j, m in enumerate(markers):
            if j != i:
                assert not _overlap(a, m), (a["text"], m)
    assert page.errors == []
    context.close()
