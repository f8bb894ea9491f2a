/* 试呼分析: what the project carried over from an earlier project's wrap-up
 * (/projects/{p}/carried-over): its highlight scripts, common errors, refusal reasons,
 * product facts agents got wrong and any other list (customers' questions ...). */
"use strict";
(() => {
  const {t, api, h, pct} = QA;
  const box = document.getElementById("carried-over");
  const body = document.getElementById("carried-body");
  const select = document.getElementById("t-project");

  function list(title, id, items, line) {
    return [h("h3", {}, title), items.length
      ? h("ul", {id}, items.map((x) => h("li", {}, line(x))))
      : h("p", {class: "muted"}, t("none"))];
  }

  let rubrics = null;  // /rubrics, for the source rubric's title
  async function show(project) {
    if (!project) { box.hidden = true; return; }
    let d;
    try {
      d = await api(`/projects/${encodeURIComponent(project)}/carried-over`);
      rubrics = rubrics || await api("/rubrics");
    } catch (e) {
      if (e.status === 404) { box.hidden = true; return; }
      throw e;
    }
    const other = Object.entries(d.other || {}).filter(([, v]) => v.length).flatMap(([k, v]) =>
      list(k, "carried-" + k, v.slice(0, 10), (x) => x.label || x.text || x.name || JSON.stringify(x)));
    body.replaceChildren(
      h("p", {class: "muted"}, t("From the wrap-up of project {project} ({rubric}), carried over {when}", {project: d.source_project, rubric: QA.rubricLabel(rubrics, d.source_rubric.id, d.source_rubric.version), when: QA.when(d.carried_at)})),
      ...list(t("Highlight scripts"), "carried-highlights", d.highlights, (x) => t("{text} ({calls} calls, success rate {rate})", {text: x.text, calls: x.calls, rate: pct(x.success_rate)})),
      ...list(t("Common errors"), "carried-errors", d.common_errors, (x) => t("{name}: {count} calls ({share})", {name: x.name || x.rule_id, count: x.count, share: pct(x.share)})),
      ...list(t("Customer refusal reasons"), "carried-refusals", d.refusal_reasons, (x) => t("{name}: {count} calls", {name: x.name, count: x.raised_in_calls})),
      ...list(t("Knowledge base check"), "carried-facts", d.product_fact_violations, (x) => x.name || x.rule_id),
      ...other);
    box.hidden = false;
  }

  const shown = () => show(select.value).catch((e) => QA.toast(e.message, true));
  select.addEventListener("change", shown);
  document.getElementById("filters").addEventListener("submit", shown);
  // A new project has no calls yet, so no place in the menu: the address names it. Else the
  // trial page fills the menu after it loads: show once it has a value.
  const named = new URLSearchParams(location.search).get("project");
  const first = setInterval(() => {
    const project = named || select.value;
    if (project) { clearInterval(first); show(project).catch((e) => QA.toast(e.message, true)); }
  }, 200);
  setTimeout(() => clearInterval(first), 15000);
})();
