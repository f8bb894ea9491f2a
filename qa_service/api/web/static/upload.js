/* 上传录音: several recordings at once through POST /recordings, each with its own progress
 * bar and its own result (queued, already uploaded, or the error naming the file); the
 * project's active rubric scores them. Checked here first: the file type and size. */
"use strict";
(() => {
  const {t, api, h, csrf, describe} = QA;
  const form = document.getElementById("upload-form");
  const body = document.querySelector("#uploads tbody");
  const maxBytes = Number(form.dataset.maxMb) * 1024 * 1024;
  const extensions = form.dataset.extensions.split(" ");
  const AT_ONCE = 2;  // uploads in flight together

  // The browser writes its own words on a file input ("Choose Files"): the page shows its own.
  const input = document.getElementById("u-files");
  input.addEventListener("change", () => {
    const n = input.files.length;
    document.getElementById("u-chosen").textContent = n === 1 ? input.files[0].name : n ? t("{n} files chosen", {n}) : t("no file chosen");
  });

  const size = (n) => (n >= 1024 * 1024 ? (n / 1024 / 1024).toFixed(1) + " MB" : Math.ceil(n / 1024) + " KB");

  function fields() {
    const f = new FormData(form);
    const out = {};
    for (const k of ["project", "agent_id", "phase"]) if (f.get(k)) out[k] = f.get(k);
    const when = (f.get("call_time") || "").trim();
    if (when) out.call_time = when.length === 10 ? when + "T00:00:00" : when.replace(" ", "T") + ":00";
    return out;
  }

  function rowFor(file) {
    const bar = h("progress", {max: 100, value: 0});
    const result = h("td", {class: "result muted"}, t("waiting"));
    const tr = h("tr", {class: "upload", dataset: {name: file.name}},
      h("td", {class: "text"}, file.name), h("td", {}, size(file.size)), h("td", {}, bar), result);
    return {file, tr, bar, result};
  }

  function show(item, text, cls, link) {
    item.result.className = "result " + (cls || "");
    item.result.replaceChildren(text, ...(link ? [" ", h("a", {href: link}, t("Open the call →"))] : []));
  }

  // A file the server would refuse is refused here, with the same reason, without sending it.
  function refusal(file) {
    const dot = file.name.lastIndexOf(".");
    const ext = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
    if (!extensions.includes(ext)) return t("not a recording ({extensions})", {extensions: extensions.join(", ")});
    if (file.size > maxBytes) return t("larger than the {mb} MB limit", {mb: form.dataset.maxMb});
    if (file.size === 0) return t("the file is empty");
    return null;
  }

  function send(item, extra) {
    return new Promise((resolve) => {
      const data = new FormData();
      data.append("file", item.file, item.file.name);
      for (const [k, v] of Object.entries(extra)) data.append(k, v);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/recordings");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        item.bar.value = Math.round((e.loaded / e.total) * 100);
        show(item, t("uploading {percent}%", {percent: item.bar.value}), "muted");
      });
      xhr.addEventListener("load", () => {
        let answer = xhr.responseText;
        try { answer = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: shown as text */ }
        resolve({status: xhr.status, answer});
      });
      xhr.addEventListener("error", () => resolve({status: 0, answer: t("the network broke off: not uploaded")}));
      xhr.send(data);
    });
  }

  async function upload(item, extra) {
    const refused = refusal(item.file);
    if (refused) { item.tr.classList.add("failed"); show(item, t("{name}: {problem}", {name: item.file.name, problem: refused}), "error"); return; }
    show(item, t("uploading {percent}%", {percent: 0}), "muted");
    const {status, answer} = await send(item, extra);
    const call = answer && answer.recording_id ? `/calls/recording/${answer.recording_id}` : null;
    if (status === 202) { item.bar.value = 100; item.tr.classList.add("done"); show(item, t("uploaded, queued for scoring"), "good", call); }
    else if (status === 200) { item.bar.value = 100; item.tr.classList.add("done"); show(item, t("uploaded before: its scoring stands"), "good", call); }
    else if (status === 503) { item.bar.value = 100; item.tr.classList.add("done"); show(item, t("saved; the scoring queue is away, it is scored when it is back"), "", call); }
    else {
      item.tr.classList.add("failed");
      if (status === 401) location.href = "/login?next=/upload";
      show(item, t("{name}: {problem}", {name: item.file.name, problem: describe(answer) || t("upload failed ({status})", {status})}), "error");
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const files = [...document.getElementById("u-files").files];
    if (!files.length) { QA.toast(t("Choose recordings first")); return; }
    if (!form.reportValidity()) return;
    const extra = fields();
    const items = files.map(rowFor);
    body.replaceChildren(...items.map((i) => i.tr));
    const start = document.getElementById("u-start");
    start.disabled = true;
    const queue = [...items];
    const worker = async () => { for (let item = queue.shift(); item; item = queue.shift()) await upload(item, extra); };
    await Promise.all(Array.from({length: AT_ONCE}, worker));
    start.disabled = false;
    const failed = items.filter((i) => i.tr.classList.contains("failed")).length;
    QA.toast(failed ? t("{done} uploaded, {failed} failed", {done: items.length - failed, failed}) : t("{done} recordings uploaded", {done: items.length}));
    document.body.dataset.uploaded = String(items.length);
  });

  api("/rubrics").then((rubrics) => {
    const select = document.getElementById("u-project");
    for (const r of rubrics) for (const p of r.active_for) {
      select.append(h("option", {value: p}, `${p} (${r.name || r.rubric_id} v${r.version})`));
    }
    const last = QA.preferredProject ? QA.preferredProject([...select.options].map((o) => o.value).filter(Boolean)) : null;
    if (last) select.value = last;
    document.body.dataset.loaded = "1";
  }).catch((e) => { QA.toast(t("Loading failed: {error}", {error: e.message})); });
})();
