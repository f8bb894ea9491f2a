/* 知识库: stored versions (/knowledge-bases), their facts and YAML, upload with validation errors
 * at their line, activate a version for a project (三统一 warnings shown). */
"use strict";
(() => {
  const {api, h} = QA;
  let selected = null;
  const TYPES = {bool: "是/否", date: "日期"};

  async function show(k) {
    selected = k;
    const d = await api(`/knowledge-bases/${encodeURIComponent(k.id)}/${k.version}`);
    document.getElementById("kb-detail").hidden = false;
    document.getElementById("kb-title").textContent = `${d.product || d.id}（${d.id} v${d.version}）`;
    document.querySelector("#kb-facts tbody").replaceChildren(...d.facts.map((f) => h("tr", {dataset: {fact: f.id}},
      h("td", {}, f.id), h("td", {}, f.name), h("td", {}, TYPES[f.type] || f.type), h("td", {}, f.value))));
    document.getElementById("kb-yaml").textContent = d.yaml;
    const up = document.getElementById("kb-upload-yaml");
    if (up && !up.value) up.value = d.yaml;
    const p = document.getElementById("kb-project");
    if (p && !p.value && k.active_for && k.active_for.length) p.value = k.active_for[0];
  }

  async function list() {
    const rows = await api("/knowledge-bases");
    document.querySelector("#kbs tbody").replaceChildren(...(rows.length ? rows.map((k) => h("tr", {class: "clickable",
      dataset: {kb: `${k.id}@${k.version}`}, onclick: () => show(k).catch((e) => QA.toast(e.message, true))},
      h("td", {}, k.id), h("td", {}, "v" + k.version), h("td", {}, k.product), h("td", {}, (k.active_for || []).join("、") || "—"),
      h("td", {}, QA.when(k.created_at))))
      : [h("tr", {}, h("td", {colspan: 5, class: "muted"}, "还没有知识库"))]));
  }

  async function upload() {
    const status = document.getElementById("kb-upload-status");
    const problems = document.getElementById("kb-problems");
    problems.replaceChildren(); status.textContent = "";
    try {
      const r = await api("/knowledge-bases", {method: "POST", body: document.getElementById("kb-upload-yaml").value, raw: "application/yaml"});
      status.textContent = r.created === false ? `未保存：${r.id} v${r.version} 内容相同` : `已保存 ${r.id} v${r.version}`;
      status.className = r.created === false ? "muted" : "good";
      await list();
    } catch (e) {
      const found = (e.data && e.data.problems) || [];
      status.textContent = found.length ? `未保存：共 ${found.length} 个问题` : "未保存：" + e.message.split("\n")[0];
      status.className = "error";
      problems.replaceChildren(...found.map((p) => h("li", {dataset: {line: p.line ?? ""}},
        (p.line ? `第 ${p.line} 行` : "") + (p.field ? ` ${p.field}` : "") + "：" + p.reason)));
    }
  }

  async function activate() {
    const project = document.getElementById("kb-project").value.trim();
    if (!project) { QA.toast("请填写项目", true); return; }
    const r = await api(`/knowledge-bases/${encodeURIComponent(selected.id)}/${selected.version}/activate?project=${encodeURIComponent(project)}`, {method: "POST"});
    document.getElementById("kb-warnings").replaceChildren(...r.warnings.map((w) => h("li", {}, w)));
    QA.toast(`项目 ${project} 已启用知识库 ${selected.id} v${selected.version}`, r.warnings.length > 0);
    await list();
  }

  const on = (id, fn) => { const el = document.getElementById(id); if (el) el.addEventListener("click", () => fn().catch((e) => QA.toast(e.message, true))); };
  on("kb-upload", upload);
  on("kb-activate", activate);
  list().catch((e) => QA.toast(e.message, true));
})();
