/* An agent's (or team lead's) actions on their own call: 已阅, and 申诉 of the fail grade or of a
 * finding that cost points, with a reason; open and ruled appeals of the call are listed. */
"use strict";
(() => {
  const {api, h, toast, STATUSES, CATEGORIES} = QA;
  const call = document.getElementById("call");
  const id = call.dataset.evaluation;
  const APPEAL_STATES = {filed: "待分配", assigned: "待裁定", upheld: "维持原判", overturned: "改判"};
  const panel = h("div", {class: "card", id: "appeal-panel"}, h("h3", {}, "已阅与申诉"));
  call.append(panel);

  async function render() {
    const [ev, appeals] = await Promise.all([api("/evaluations/" + id), api("/appeals")]);
    const mine = appeals.filter((a) => a.recording_id === ev.recording_id);
    panel.replaceChildren(h("h3", {}, "已阅与申诉"));
    if (QA.role === "agent") {
      panel.append(h("button", {type: "button", id: "acknowledge", onclick: async (e) => {
        try { await api(`/evaluations/${id}/acknowledge`, {method: "POST"}); e.target.replaceWith(h("span", {class: "good"}, "已阅")); } catch (err) { toast(err.message, true); }
      }}, "已阅（我已看过评分与扣分项）"));
    }
    const reason = h("input", {id: "appeal-reason", placeholder: "申诉理由（必填）", size: 40});
    panel.append(h("p", {}, reason));
    const file = (body) => async () => {
      try {
        await api(`/evaluations/${id}/appeals`, {method: "POST", body: {...body, reason: reason.value}});
        toast("申诉已提交"); render();
      } catch (err) { toast(err.message, true); }
    };
    const items = [];
    if (ev.grade === "fail") items.push(h("li", {}, "等级：不合格 ", h("button", {type: "button", class: "appeal-grade", onclick: file({target: "grade"})}, "申诉等级")));
    for (const f of ev.findings.filter((x) => QA.BAD.has(x.status) && x.source === "machine")) {
      items.push(h("li", {}, `${CATEGORIES[f.category] || f.category}「${f.name || f.rule_id}」：${STATUSES[f.status] || f.status} `,
        h("button", {type: "button", class: "appeal-finding", dataset: {finding: f.id}, onclick: file({target: "finding", finding_id: f.id})}, "申诉")));
    }
    panel.append(items.length ? h("ul", {}, items) : h("p", {class: "muted"}, "没有可申诉的扣分项。"));
    if (mine.length) {
      panel.append(h("h4", {}, "本通话的申诉"), h("ul", {id: "call-appeals"}, mine.map((a) => h("li", {},
        `${a.target === "grade" ? "等级" : a.rule_id}：${APPEAL_STATES[a.state] || a.state}`, a.ruling_comment ? "（" + a.ruling_comment + "）" : ""))));
    }
  }
  render().catch((err) => toast(err.message, true));
})();
