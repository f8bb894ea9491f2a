/* 知识库: stored versions (/knowledge-bases), their facts and YAML, upload with validation errors
 * at their line, activate a version for a project (三统一 warnings shown). */
"use strict";
(() => {
  const {t, api, h} = QA;
  let selected = null;
  // the API's type is "bool", "date", or a number's unit (元, 分钟; "" for none)
  const TYPES = {bool: t("yes/no"), date: t("date")};
  const kind = (type) => TYPES[type] || (type ? t("number ({unit})", {unit: type}) : t("number"));

  async function show(k) {
    selected = k;
    const d = await api(`/knowledge-bases/${encodeURIComponent(k.id)}/${k.version}`);
    document.getElementById("kb-detail").hidden = false;
    document.getElementById("kb-title").textContent = t("{name} ({id} v{version})", {name: d.product || d.id, id: d.id, version: d.version});
    document.querySelector("#kb-facts tbody").replaceChildren(...d.facts.map((f) => h("tr", {dataset: {fact: f.id}},
      // the fact by its name; its id (what the YAML and the API call it) on hover
      h("td", {title: f.id}, f.name || f.id), h("td", {}, kind(f.type)), h("td", {}, f.value))));
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
      h("td", {}, k.id), h("td", {}, "v" + k.version), h("td", {}, k.product), h("td", {}, (k.active_for || []).join(t(", ")) || "—"),
      h("td", {}, QA.when(k.created_at))))
      : [h("tr", {}, h("td", {colspan: 5, class: "muted"}, t("No knowledge bases yet")))]));
  }

  async function upload() {
    const status = document.getElementById("kb-upload-status");
    const problems = document.getElementById("kb-problems");
    problems.replaceChildren(); status.textContent = "";
    try {
      const r = await api("/knowledge-bases", {method: "POST", body: document.getElementById("kb-upload-yaml").value, raw: "application/yaml"});
      status.textContent = r.created === false ? t("Not saved: {id} v{version} has the same content", {id: r.id, version: r.version}) : t("Saved {id} v{version}", {id: r.id, version: r.version});
      status.className = r.created === false ? "muted" : "good";
      await list();
    } catch (e) {
      const found = (e.data && e.data.problems) || [];
      status.textContent = found.length ? t("Not saved: {n} problems", {n: found.length}) : t("Not saved: {error}", {error: e.message.split("\n")[0]});
      status.className = "error";
      problems.replaceChildren(...found.map((p) => h("li", {dataset: {line: p.line ?? ""}},
        (p.line ? t("line {line}", {line: p.line}) : "") + (p.field ? ` ${p.field}` : "") + t(": ") + p.reason)));
    }
  }

  async function activate() {
    const project = document.getElementById("kb-project").value.trim();
    if (!project) { QA.toast(t("Fill in the project"), true); return; }
    const r = await api(`/knowledge-bases/${encodeURIComponent(selected.id)}/${selected.version}/activate?project=${encodeURIComponent(project)}`, {method: "POST"});
    document.getElementById("kb-warnings").replaceChildren(...r.warnings.map((w) => h("li", {}, w)));
    QA.toast(t("Project {project} now uses knowledge base {id} v{version}", {project, id: selected.id, version: selected.version}), r.warnings.length > 0);
    await list();
  }

  const on = (id, fn) => { const el = document.getElementById(id); if (el) el.addEventListener("click", () => fn().catch((e) => QA.toast(e.message, true))); };
  on("kb-upload", upload);
  on("kb-activate", activate);
  list().catch((e) => QA.toast(e.message, true));
})();
