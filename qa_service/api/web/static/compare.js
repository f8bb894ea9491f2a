/* 规则版本对比 (/rubrics/{id}/compare): which calls change grade under another version. Used on
 * the trial page and the rubrics page. */
"use strict";
const QACompare = (() => {
  const {api, h, grade, num, pct} = QA;
  const PHASES = {trial: "试呼", production: "正式外呼"};
  async function show(box, rubricId, from, to, project, phase) {
    const q = new URLSearchParams({from, to});
    if (project) q.set("project", project);
    if (phase) q.set("phase", phase);
    box.replaceChildren(h("p", {class: "muted"}, "对比中…"));
    try {
      const d = await api(`/rubrics/${encodeURIComponent(rubricId)}/compare?${q}`);
      const gradeRow = (side) => Object.entries(d.grades[side] || {}).map(([g, n]) => `${QA.GRADES[g] || g} ${n}`).join("，");
      box.replaceChildren(
        h("p", {class: "compare-summary"}, `两个版本都评过的${d.phase ? PHASES[d.phase] || d.phase : ""}通话 ${d.calls} 通，等级变化 ${d.changed_grade_count} 通。`,
          h("br"), `v${d.from}：${gradeRow("from")}；均分 ${num(d.scores.from.mean)}`,
          h("br"), `v${d.to}：${gradeRow("to")}；均分 ${num(d.scores.to.mean)}`),
        h("table", {class: "grid", id: "compare-changed"},
          h("thead", {}, h("tr", {}, ["通话", "坐席", "时间", `v${d.from}`, `v${d.to}`].map((t) => h("th", {}, t)))),
          h("tbody", {}, d.changed_grade.length ? d.changed_grade.map((c) => h("tr", {},
            h("td", {}, h("a", {href: "/calls/" + c.to.evaluation_id}, "#" + c.recording_id)),
            h("td", {}, c.agent_id || "—"), h("td", {}, QA.when(c.call_time)),
            h("td", {}, num(c.from.score), " ", grade(c.from.grade)),
            h("td", {}, num(c.to.score), " ", grade(c.to.grade))))
            : h("tr", {}, h("td", {colspan: 5, class: "muted"}, "没有通话改变等级")))),
        h("h3", {}, "各规则命中 / 扣分率"),
        h("table", {class: "grid"},
          h("thead", {}, h("tr", {}, ["规则", `v${d.from} 扣分率`, `v${d.to} 扣分率`].map((t) => h("th", {}, t)))),
          h("tbody", {}, d.rules.map((r) => h("tr", {}, h("td", {}, r.name || r.rule_id),
            h("td", {}, r.from ? pct(r.from.bad_rate) : "（无此规则）"),
            h("td", {}, r.to ? pct(r.to.bad_rate) : "（无此规则）"))))));
    } catch (e) {
      box.replaceChildren(h("p", {class: "error"}, "对比失败：" + e.message));
    }
  }
  /* The form's rubric menu and versions: opens on the preferred rubric, comparing its newest
   * version with the one before; a rubric with one version has nothing to compare yet. */
  function setup(form, rubrics, preferred) {
    const sel = form.elements.rubric;
    const current = sel.value || preferred;
    sel.replaceChildren();
    QA.fillSelect(sel, [...new Set(rubrics.map((r) => r.id))], current);
    const versions = () => {
      const vs = rubrics.filter((r) => r.id === sel.value).map((r) => r.version).sort((a, b) => a - b);
      const button = form.querySelector("button[type=submit]");
      const hint = form.querySelector(".compare-hint") || form.appendChild(h("span", {class: "muted compare-hint"}));
      form.elements.from.value = vs.length > 1 ? vs[vs.length - 2] : vs[0] || 1;
      form.elements.to.value = vs[vs.length - 1] || 1;
      button.disabled = vs.length < 2;
      hint.textContent = vs.length < 2 ? `该规则只有 v${vs[0] || 1}，上传新版本后才能对比` : "";
    };
    sel.onchange = versions;
    versions();
  }
  return {show, setup};
})();
