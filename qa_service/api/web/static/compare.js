/* 规则版本对比 (/rubrics/{id}/compare): which calls change grade under another version. Used on
 * the trial page and the rubrics page. */
"use strict";
const QACompare = (() => {
  const {t, api, h, grade, num, pct} = QA;
  const PHASES = {trial: t("Trial"), production: t("Production")};
  async function show(box, rubricId, from, to, project, phase) {
    const q = new URLSearchParams({from, to});
    if (project) q.set("project", project);
    if (phase) q.set("phase", phase);
    box.replaceChildren(h("p", {class: "muted"}, t("Comparing…")));
    try {
      const d = await api(`/rubrics/${encodeURIComponent(rubricId)}/compare?${q}`);
      const gradeRow = (side) => Object.entries(d.grades[side] || {}).map(([g, n]) => `${QA.GRADES[g] || g} ${n}`).join(t(" / "));
      box.replaceChildren(
        h("p", {class: "compare-summary"}, d.phase
          ? t("{phase} calls scored by both versions: {calls}; grade changed in {changed}.", {phase: PHASES[d.phase] || d.phase, calls: d.calls, changed: d.changed_grade_count})
          : t("Calls scored by both versions: {calls}; grade changed in {changed}.", {calls: d.calls, changed: d.changed_grade_count}),
          h("br"), t("v{version}: {grades}; mean score {mean}", {version: d.from, grades: gradeRow("from"), mean: num(d.scores.from.mean)}),
          h("br"), t("v{version}: {grades}; mean score {mean}", {version: d.to, grades: gradeRow("to"), mean: num(d.scores.to.mean)})),
        h("table", {class: "grid", id: "compare-changed"},
          h("thead", {}, h("tr", {}, [t("Call"), `v${d.from}`, `v${d.to}`].map((x) => h("th", {}, x)))),
          h("tbody", {}, d.changed_grade.length ? d.changed_grade.map((c) => h("tr", {},
            h("td", {}, QA.callLink(c.call, c.recording_id, "/calls/" + c.to.evaluation_id)),
            h("td", {}, num(c.from.score), " ", grade(c.from.grade)),
            h("td", {}, num(c.to.score), " ", grade(c.to.grade))))
            : h("tr", {}, h("td", {colspan: 3, class: "muted"}, t("No call changed grade"))))),
        h("h3", {}, t("Hits / deduction rate by rule")),
        h("table", {class: "grid"},
          h("thead", {}, h("tr", {}, [t("Rule name"), t("v{version} deduction rate", {version: d.from}), t("v{version} deduction rate", {version: d.to})].map((x) => h("th", {}, x)))),
          h("tbody", {}, d.rules.map((r) => h("tr", {}, h("td", {}, r.name || r.rule_id),
            h("td", {}, r.from ? pct(r.from.bad_rate) : t("(no such rule)")),
            h("td", {}, r.to ? pct(r.to.bad_rate) : t("(no such rule)")))))));
    } catch (e) {
      box.replaceChildren(h("p", {class: "error"}, t("Comparison failed: {error}", {error: e.message})));
    }
  }
  /* The form's rubric menu and versions: opens on the preferred rubric, comparing its newest
   * version with the one before; a rubric with one version has nothing to compare yet. */
  function setup(form, rubrics, preferred) {
    const sel = form.elements.rubric;
    const current = sel.value || preferred;
    sel.replaceChildren();
    QA.fillSelect(sel, [...new Set(rubrics.map((r) => r.id))], current, QA.rubricTitles(rubrics));
    const versions = () => {
      const vs = rubrics.filter((r) => r.id === sel.value).map((r) => r.version).sort((a, b) => a - b);
      const button = form.querySelector("button[type=submit]");
      const hint = form.querySelector(".compare-hint") || form.appendChild(h("span", {class: "muted compare-hint"}));
      form.elements.from.value = vs.length > 1 ? vs[vs.length - 2] : vs[0] || 1;
      form.elements.to.value = vs[vs.length - 1] || 1;
      button.disabled = vs.length < 2;
      hint.textContent = vs.length < 2 ? t("This rubric has only v{version}; upload a new version to compare", {version: vs[0] || 1}) : "";
    };
    sel.onchange = versions;
    versions();
  }
  return {show, setup};
})();
