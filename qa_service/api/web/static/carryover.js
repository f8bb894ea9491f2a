/* 试呼分析: what the project carried over from an earlier project's wrap-up
 * (/projects/{p}/carried-over): its highlight scripts, common errors, refusal reasons,
 * product facts agents got wrong and any other list (customers' questions ...). */
"use strict";
(() => {
  const {api, h, pct} = QA;
  const box = document.getElementById("carried-over");
  const body = document.getElementById("carried-body");
  const select = document.getElementById("t-project");

  function list(title, id, items, line) {
    return [h("h3", {}, title), items.length
      ? h("ul", {id}, items.map((x) => h("li", {}, line(x))))
      : h("p", {class: "muted"}, "无")];
  }

  async function show(project) {
    if (!project) { box.hidden = true; return; }
    let d;
    try {
      d = await api(`/projects/${encodeURIComponent(project)}/carried-over`);
    } catch (e) {
      if (e.status === 404) { box.hidden = true; return; }
      throw e;
    }
    const other = Object.entries(d.other || {}).filter(([, v]) => v.length).flatMap(([k, v]) =>
      list(k, "carried-" + k, v.slice(0, 10), (x) => x.label || x.text || x.name || JSON.stringify(x)));
    body.replaceChildren(
      h("p", {class: "muted"}, `来自项目 ${d.source_project} 的项目总结（${d.source_rubric.id} v${d.source_rubric.version}），${QA.when(d.carried_at)} 带入`),
      ...list("亮点话术", "carried-highlights", d.highlights, (x) => `${x.text}（${x.calls} 通，成功率 ${pct(x.success_rate)}）`),
      ...list("共性错误", "carried-errors", d.common_errors, (x) => `${x.name || x.rule_id}：${x.count} 通（${pct(x.share)}）`),
      ...list("客户拒绝原因", "carried-refusals", d.refusal_reasons, (x) => `${x.name}：${x.raised_in_calls} 通`),
      ...list("知识库核对", "carried-facts", d.product_fact_violations, (x) => x.name || x.rule_id),
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
