/* An agent's (or team lead's) actions on their own call: 已阅, and 申诉 of the fail grade or of a
 * finding that cost points, with a reason; open and ruled appeals of the call are listed. */
"use strict";
(() => {
  const {t, api, h, toast, STATUSES, CATEGORIES} = QA;
  const call = document.getElementById("call");
  const id = call.dataset.evaluation;
  const APPEAL_STATES = {filed: t("to assign"), assigned: t("to rule"), upheld: t("upheld"), overturned: t("overturned")};
  const panel = h("div", {class: "card", id: "appeal-panel"}, h("h3", {}, t("Read and appeals")));
  call.append(panel);

  async function render() {
    const [ev, appeals] = await Promise.all([api("/evaluations/" + id), api("/appeals")]);
    const mine = appeals.filter((a) => a.recording_id === ev.recording_id);
    panel.replaceChildren(h("h3", {}, t("Read and appeals")));
    if (QA.role === "agent") {
      panel.append(h("button", {type: "button", id: "acknowledge", onclick: async (e) => {
        try { await api(`/evaluations/${id}/acknowledge`, {method: "POST"}); e.target.replaceWith(h("span", {class: "good"}, t("Read"))); } catch (err) { toast(err.message, true); }
      }}, t("Read (I have seen the score and the deductions)")));
    }
    const reason = h("input", {id: "appeal-reason", placeholder: t("Reason for the appeal (required)"), size: 40});
    panel.append(h("p", {}, reason));
    const file = (body) => async () => {
      try {
        await api(`/evaluations/${id}/appeals`, {method: "POST", body: {...body, reason: reason.value}});
        toast(t("Appeal filed")); render();
      } catch (err) { toast(err.message, true); }
    };
    // Each thing is appealed once (the service refuses a second appeal): an appealed one says so
    // instead of offering the button. An appeal keeps its finding's rule and evidence span.
    const spanStart = (f) => { const s = (f.evidence || []).map((e) => e.start).filter((x) => x !== null && x !== undefined); return s.length ? Math.min(...s) : null; };
    const appealed = (f) => mine.some((a) => a.target === "finding" && a.rule_id === f.rule_id && (a.start ?? null) === spanStart(f));
    const done = h("span", {class: "muted appealed"}, t("appealed already"));
    const items = [];
    if (ev.grade === "fail") items.push(h("li", {}, t("Grade: fail "), mine.some((a) => a.target === "grade") ? done.cloneNode(true)
      : h("button", {type: "button", class: "appeal-grade", onclick: file({target: "grade"})}, t("Appeal the grade"))));
    for (const f of ev.findings.filter((x) => QA.BAD.has(x.status) && x.source === "machine")) {
      const category = CATEGORIES[f.category] || f.category, name = f.name || f.rule_id, status = STATUSES[f.status] || f.status;
      // a rule named as its category (语速) is named once
      items.push(h("li", {}, name === category ? t("{name}: {status} ", {name, status}) : t("{category} “{name}”: {status} ", {category, name, status}),
        appealed(f) ? done.cloneNode(true)
          : h("button", {type: "button", class: "appeal-finding", dataset: {finding: f.id}, onclick: file({target: "finding", finding_id: f.id})}, t("Appeal"))));
    }
    panel.append(items.length ? h("ul", {}, items) : h("p", {class: "muted"}, t("No deductions to appeal.")));
    if (mine.length) {
      panel.append(h("h4", {}, t("Appeals of this call")), h("ul", {id: "call-appeals"}, mine.map((a) => h("li", {},
        t("{target}: {state}", {target: a.target === "grade" ? t("grade") : a.rule_name || a.rule_id, state: APPEAL_STATES[a.state] || a.state}), a.ruling_comment ? t("({comment})", {comment: a.ruling_comment}) : ""))));
    }
  }
  render().catch((err) => toast(err.message, true));
})();
