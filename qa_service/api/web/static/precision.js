/* 规则准确率: /rules/precision per rubric — confirmed / overturned / added per rule, precision,
 * a weekly trend (the same API per week), and the overturned and missed examples of a rule. */
"use strict";
(() => {
  const {t, api, h, pct, CATEGORIES, STATUSES, clock} = QA;
  const form = document.getElementById("filters");
  const trend = echarts.init(document.getElementById("trend"));
  window.addEventListener("resize", () => trend.resize());

  const query = () => QA.filterQuery(form);

  function examples(rule) {
    const list = (title, items) => [h("h3", {}, t("{title} ({n})", {title, n: items.length})),
      items.length ? h("ul", {}, items.map((x) => h("li", {},
        QA.callLink(x.call, x.recording_id, "/calls/" + x.evaluation_id, " " + clock(x.start || 0)), " ",
        x.evidence_text ? h("q", {}, x.evidence_text) : null, " ",
        h("span", {class: "muted"}, `${STATUSES[x.machine_status] || x.machine_status || t("not found")} → ${STATUSES[x.reviewed_status] || x.reviewed_status}`),
        x.comment ? h("div", {class: "muted"}, t("Reviewer's comment: {comment}", {comment: x.comment})) : null)))
        : h("p", {class: "muted"}, t("none"))];
    document.getElementById("examples").replaceChildren(h("h2", {}, rule.name || rule.rule_id),
      ...list(t("Overturned (the machine was wrong)"), rule.overturned_examples || []), ...list(t("Added by reviewers (the machine missed it)"), rule.added_examples || []));
  }

  async function weekly(q) {
    // Up to eight weeks back from the period's end (or now): the same API, one call per week.
    // Weeks are counted on the call center's wall clock (times without an offset, which the
    // API reads as its time), never on the browser's zone: the arithmetic runs on a UTC frame.
    const end = Date.parse((q.get("until") || QA.zoneNow()) + "Z");
    const naive = (t) => new Date(t).toISOString().slice(0, 19);
    const weeks = [];
    for (let i = 7; i >= 0; i--) {
      const hi = new Date(end - i * 7 * 864e5), lo = new Date(hi.getTime() - 7 * 864e5);
      const wq = new URLSearchParams(q);
      wq.set("since", naive(lo)); wq.set("until", naive(hi));
      weeks.push(api("/rules/precision?" + wq).then((d) => {
        const c = d.rules.reduce((a, r) => [a[0] + r.confirmed, a[1] + r.overturned], [0, 0]);
        return [hi.toISOString().slice(5, 10), c[0] + c[1] ? +(100 * c[0] / (c[0] + c[1])).toFixed(1) : null];
      }));
    }
    const points = await Promise.all(weeks);
    trend.setOption({grid: {left: 40, right: 10, top: 20, bottom: 30}, tooltip: {trigger: "axis"},
      xAxis: {type: "category", data: points.map((p) => p[0])}, yAxis: {type: "value", min: 0, max: 100, axisLabel: {formatter: "{value}%"}},
      series: [{name: t("Precision"), type: "line", connectNulls: true, symbolSize: 9, showAllSymbol: true, data: points.map((p) => p[1])}]}, true);
  }

  async function load() {
    const q = query();
    if (!q.get("rubric_id")) return;
    const d = await api("/rules/precision?" + q);
    document.querySelector("#precision tbody").replaceChildren(...(d.rules.length ? d.rules.map((r) => h("tr", {class: "clickable", dataset: {rule: r.rule_id},
      onclick: () => examples(r)},
      h("td", {}, r.name || r.rule_id), h("td", {}, CATEGORIES[r.category] || r.category), h("td", {}, r.confirmed),
      h("td", {}, r.overturned), h("td", {}, r.added), h("td", {}, r.turned_bad), h("td", {}, pct(r.precision))))
      : [h("tr", {}, h("td", {colspan: 7, class: "muted"}, t("No reviews in this period")))]));
    document.body.dataset.loaded = "1";
    weekly(q).catch(() => {});
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load().catch((err) => QA.toast(err.message, true)); });
  Promise.all([api("/rubrics"), QA.projects()]).then(([rs, ps]) => {
    QA.fillSelect(form.elements.rubric_id, [...new Set(rs.map((r) => r.id))], QA.preferredRubric(rs, QA.preferredProject(ps)), QA.rubricTitles(rs));
    QA.fillSelect(form.elements.project, ps);
    return load();
  }).catch((err) => QA.toast(err.message, true));
})();
