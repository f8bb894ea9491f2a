/* 项目总结 (project wrap-up): /projects/{p}/wrapup as tables; the Markdown the CLI saves
 * under reports/ is one link away (?format=markdown). */
"use strict";
(() => {
  const {t, api, h, pct, num, CATEGORIES} = QA;
  const form = document.getElementById("filters");
  const QUADRANTS = {1: t("Quadrant I · we say it, customers like it"), 2: t("Quadrant II · we say it, customers do not like it"),
    3: t("Quadrant III · neither said nor liked"), 4: t("Quadrant IV · we do not say it, customers like it")};
  const TRENDS = {rising: t("rising"), falling: t("falling"), steady: t("steady")};
  const none = (cols, text) => [h("tr", {}, h("td", {colspan: cols, class: "muted"}, text))];
  const fill = (id, rows, cols, empty) =>
    document.querySelector(`#${id} tbody`).replaceChildren(...(rows.length ? rows : none(cols, empty)));

  function kpiRow(name, k) {
    return h("tr", {}, h("td", {}, name), h("td", {}, k.evaluated), h("td", {}, pct(k.pass_rate)),
      h("td", {}, pct(k.excellent_rate)), h("td", {}, pct(k.success_rate)),
      h("td", {}, t("{n} s", {n: num(k.average_talk_seconds)})), h("td", {}, k.fatal));
  }

  // the knowledge base by its own name and version; what the rubric names only when unreadable
  const knowledgeBase = (r) => r.knowledge_base_name ? t("{name} v{version}", {name: r.knowledge_base_name, version: r.knowledge_base_version})
    : r.knowledge_base || "—";

  function render(d) {
    const phases = {trial: t("Trial"), production: t("Production calls")};
    fill("w-kpis", [kpiRow(t("Whole project"), d.kpis),
      ...Object.entries(d.kpis_by_phase).map(([p, k]) => kpiRow(phases[p] || p, k)),
      ...d.kpis_by_day.map((k) => kpiRow(k.day, k))], 7, t("No calls"));
    fill("w-errors", d.common_errors.map((e) => h("tr", {dataset: {rule: e.rule_id}},
      h("td", {}, e.name || e.rule_id), h("td", {}, CATEGORIES[e.category] || e.category),
      h("td", {}, e.count), h("td", {}, pct(e.share)), h("td", {}, TRENDS[e.trend] || e.trend),
      h("td", {class: "text"}, e.by_day.map((x) => `${x.day.slice(5)}: ${x.calls}`).join(t(" / "))),
      h("td", {}, QA.exampleLinks(e.example_recordings, e.example_calls)))), 7, t("No deductions"));
    const facts = document.getElementById("w-facts");
    facts.replaceChildren(...(d.product_fact_violations.length ? d.product_fact_violations.map((f) =>
      h("div", {class: "fact", dataset: {rule: f.rule_id}},
        h("p", {}, h("strong", {}, f.name), t(": {calls} calls; agents said ", {calls: f.calls}),
          Object.entries(f.values_said).map(([v, n]) => `${v} ×${n}`).join(t(" / ")), t("; the knowledge base has {value}", {value: f.kb_value})),
        h("ul", {}, f.examples.slice(0, 3).map((ex) => h("li", {}, QA.callLink(ex.call, ex.recording_id), " ", ex.text || ""))))) : [h("p", {class: "muted"}, t("Nothing said against the knowledge base"))]));
    fill("w-guide", d.guide_map.map((p) => h("tr", {dataset: {point: p.point_id}}, h("td", {}, p.name || p.point_id),
      h("td", {}, t("{calls} ({rate})", {calls: p.said_in_calls, rate: pct(p.said_rate)})), h("td", {}, pct(p.positive_rate)),
      // No judgeable reply: no place on the vertical axis, so no quadrant either.
      h("td", {}, p.positive_rate === null ? t("Cannot be judged (no customer response to judge)") : QUADRANTS[p.quadrant] || p.quadrant))), 4, t("The rubric has no selling points"));
    fill("w-refusals", d.refusal_reasons.map((r) => h("tr", {}, h("td", {}, r.name || r.objection_id),
      h("td", {}, r.raised_in_calls), h("td", {}, pct(r.share_of_calls)), h("td", {}, pct(r.handled_rate)),
      h("td", {}, pct(r.success_rate_after)))), 5, t("No objections"));
    fill("w-highlights", d.highlights.slice(0, 30).map((x) => h("tr", {}, h("td", {class: "text"}, x.text),
      h("td", {}, QA.highlightReason(x.reason, d.refusal_reasons)), h("td", {}, x.calls), h("td", {}, pct(x.success_rate)))), 4, t("No highlight scripts"));
    QAVoice.render(document.getElementById("w-voice"), d.customer_voice);
    document.getElementById("w-summary").textContent =
      t("{rubric} v{version}, {days} days, {agents} agents, knowledge base {kb}", {rubric: d.rubric.name || d.rubric.id,
        version: d.rubric.version, days: d.period.days, agents: d.period.agents, kb: knowledgeBase(d.rubric)});
  }

  async function load() {
    const project = form.elements.project.value;
    if (!project) return;
    const path = "/projects/" + encodeURIComponent(project) + "/wrapup";
    document.getElementById("w-markdown").href = path + "?format=markdown";
    QA.exportLinks("w-export", "/exports" + path);
    history.replaceState(null, "", "?project=" + encodeURIComponent(project));
    render(await api(path));
    document.body.dataset.loaded = "1";
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load().catch((err) => QA.toast(err.message, true)); });
  QA.projects().then((ps) => {
    const wanted = new URLSearchParams(location.search).get("project");
    QA.fillSelect(form.elements.project, ps, ps.includes(wanted) ? wanted : QA.preferredProject(ps));
    return load();
  }).catch((err) => QA.toast(err.message, true));
})();
