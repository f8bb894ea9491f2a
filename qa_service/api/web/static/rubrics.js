/* 质检规则: versions (/rubrics), the YAML, upload with validation errors at their line,
 * activate for a project, rescore a project (job progress), compare versions. */
"use strict";
(() => {
  const {t, api, h} = QA;
  let selected = null;

  function numbered(pre, text, badLines) {
    pre.replaceChildren(...text.split("\n").map((line, i) =>
      h("span", {class: badLines.has(i + 1) ? "errline" : null, dataset: {line: i + 1}},
        h("span", {class: "ln"}, i + 1), line, "\n")));
  }

  async function show(r) {
    selected = r;
    QA.remember("rubric", r.id);
    const d = await api(`/rubrics/${encodeURIComponent(r.id)}/${r.version}`);
    document.getElementById("detail").hidden = false;
    document.getElementById("detail-title").textContent = t("{name} ({id} v{version})", {name: d.name || d.id, id: d.id, version: d.version});
    numbered(document.getElementById("yaml"), d.yaml, new Set());
    const up = document.getElementById("upload-yaml");
    if (up && !up.value) up.value = d.yaml;
    const p = document.getElementById("act-project");
    if (p && !p.value && r.active_for && r.active_for.length) p.value = r.active_for[0];
  }

  async function list() {
    const rows = await api("/rubrics");
    document.querySelector("#rubrics tbody").replaceChildren(...rows.map((r) => h("tr", {class: "clickable",
      onclick: () => show(r).catch((e) => QA.toast(e.message, true))},
      h("td", {}, r.id), h("td", {}, "v" + r.version), h("td", {}, r.name), h("td", {}, (r.active_for || []).join(t(", ")) || "—"),
      h("td", {}, QA.when(r.created_at)))));
    QACompare.setup(document.getElementById("compare"), rows, QA.preferredRubric(rows, null));
    return rows;
  }

  async function upload() {
    const text = document.getElementById("upload-yaml").value;
    const status = document.getElementById("upload-status");
    const problems = document.getElementById("problems");
    const view = document.getElementById("upload-view");
    problems.replaceChildren(); view.hidden = true; status.textContent = "";
    try {
      const r = await api("/rubrics", {method: "POST", body: text, raw: "application/yaml"});
      status.textContent = r.created === false
        ? t("Not saved: {id} v{version} already has exactly this content, no new version (after a change, raise the version number by one)", {id: r.id, version: r.version})
        : t("Saved {id} v{version}", {id: r.id, version: r.version});
      status.className = r.created === false ? "muted" : "good";
      status.dataset.created = r.created === false ? "0" : "1";
      await list();
    } catch (e) {
      const found = (e.data && (e.data.problems || (e.data.detail && e.data.detail.problems))) || [];
      // The problems are listed one by one below: the sentence above them only counts them.
      status.textContent = found.length ? t("Not saved: {n} problems, listed below", {n: found.length}) : t("Not saved: {error}", {error: e.message.split("\n")[0]});
      status.className = "error";
      problems.replaceChildren(...found.map((p) => h("li", {dataset: {line: p.line ?? ""}},
        (p.line ? t("line {line}", {line: p.line}) : "") + (p.field ? ` ${p.field}` : "") + t(": ") + p.reason)));
      if (found.some((p) => p.line)) {
        view.hidden = false;
        numbered(view, text, new Set(found.map((p) => p.line).filter(Boolean)));
        const first = view.querySelector(".errline");
        if (first) first.scrollIntoView({block: "center"});
      }
    }
  }

  /* Rescoring progress: the job's state where the queue knows it (rq), and in every mode how
   * many of the calls scored with this rubric already have an evaluation by this version.
   * Every evaluation counts, not only the current ones: a version that is not active for the
   * project is scored beside the active one without becoming the call's current result. */
  async function progress(project) {
    const q = new URLSearchParams({page_size: "500", current: "false", rubric_id: selected.id});
    if (project) q.set("project", project);
    const d = await api("/evaluations?" + q);
    const calls = new Set(d.items.map((i) => i.recording_id));
    const done = new Set(d.items.filter((i) => i.rubric.version === selected.version).map((i) => i.recording_id));
    return [done.size, calls.size];
  }

  const JOB_STATES = {pending: t("pending"), queued: t("queued"), scheduled: t("retrying later"), started: t("in progress"),
    finished: t("finished"), failed: t("failed")};

  async function rescore() {
    const project = document.getElementById("act-project").value.trim();
    const status = document.getElementById("rescore-status");
    const q = project ? "?project=" + encodeURIComponent(project) : "";
    const r = await api(`/rubrics/${encodeURIComponent(selected.id)}/${selected.version}/rescore${q}`, {method: "POST"});
    status.className = "muted";
    delete status.dataset.done;
    status.textContent = t("Rescoring queued…");
    // Polled until the job ends (or, without a queue to ask, until every call is scored).
    for (let i = 0; i < 600; i++) {
      await new Promise((ok) => setTimeout(ok, 1000));
      let state = null;
      try { state = (await api("/jobs/" + encodeURIComponent(r.job_id))).status; } catch (e) { if (e.status !== 404) throw e; }
      const [done, total] = await progress(project);
      status.textContent = t("Rescoring: {done} / {total} calls scored by v{version}", {done, total, version: selected.version}) + (state ? t(" ({state})", {state: JOB_STATES[state] || state}) : "");
      if (state === "failed") { status.className = "error"; return; }
      if (state === "finished" || (state === null && total && done === total)) {
        status.className = "good"; status.dataset.done = "1"; return;
      }
    }
  }

  const on = (id, fn) => { const el = document.getElementById(id); if (el) el.addEventListener("click", () => fn().catch((e) => QA.toast(e.message, true))); };
  on("upload", upload);
  on("rescore", rescore);
  on("activate", async () => {
    const project = document.getElementById("act-project").value.trim();
    if (!project) { QA.toast(t("Fill in the project"), true); return; }
    const r = await api(`/rubrics/${encodeURIComponent(selected.id)}/${selected.version}/activate?project=${encodeURIComponent(project)}`, {method: "POST"});
    // 三统一: activation goes ahead, the warnings say what the script's audit does not cover
    QA.toast(t("Project {project} now uses {id} v{version}", {project, id: selected.id, version: selected.version}) + (r.warnings.length ? t(". ") + r.warnings.join(t("; ")) : ""), r.warnings.length > 0);
    await list();
  });
  /* The two versions rule by rule, before activating the newer one. */
  const CHANGES = {added: t("added"), removed: t("removed"), changed: t("changed")};
  async function diff() {
    const q = new URLSearchParams({from: cmp.elements.from.value, to: cmp.elements.to.value});
    const d = await api(`/rubrics/${encodeURIComponent(cmp.elements.rubric.value)}/diff?${q}`);
    const rows = d.rules.flatMap((r) => (r.fields.length ? r.fields : [null]).map((f, i) => h("tr", {dataset: {rule: r.rule_id, change: r.change}},
      h("td", {}, i ? "" : (r.rule_id === "scoring" ? t("Scoring settings") : r.name)), h("td", {}, i ? "" : CHANGES[r.change] || r.change),
      // the field by its label; the YAML key it is written as on hover
      h("td", {class: "field", title: f ? f.field : null}, f ? f.label || f.field : "—"), h("td", {class: "text"}, f ? f.before ?? t("(none)") : "—"), h("td", {class: "text"}, f ? f.after ?? t("(none)") : "—"))));
    document.getElementById("diff-out").replaceChildren(h("h3", {}, t("v{from} → v{to}: {n} changes", {from: d.from, to: d.to, n: d.rules.length})),
      h("table", {class: "grid", id: "rule-diff"}, h("thead", {}, h("tr", {}, [t("Rule name"), t("Change"), t("Field"), t("Before"), t("Now")].map((x) => h("th", {}, x)))),
        h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", {colspan: 5, class: "muted"}, t("The two versions have the same rules"))))));
  }
  on("diff", diff);

  const cmp = document.getElementById("compare");
  cmp.addEventListener("submit", (e) => {
    e.preventDefault();
    QACompare.show(document.getElementById("compare-out"), cmp.elements.rubric.value, cmp.elements.from.value,
      cmp.elements.to.value, cmp.elements.project.value.trim());
  });
  list().then((rows) => { document.body.dataset.loaded = "1"; }).catch((e) => QA.toast(e.message, true));
})();
