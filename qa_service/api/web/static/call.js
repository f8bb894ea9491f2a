/* The reviewer's call page: waveform (two lanes for stereo) and transcript in step with the
 * audio, findings grouped by category with their evidence highlighted, review actions through
 * POST /evaluations/{id}/reviews and POST /reviews/{id}/withdraw, the trail, next call. */
"use strict";
(() => {
  const {t, api, h, grade, num, clock, when, CATEGORIES, STATUSES, BAD, ACTIONS, ROLES_ZH} = QA;
  const root = document.getElementById("call");
  const evaluationId = Number(root.dataset.evaluation);
  const canReview = root.dataset.canReview === "true";
  const audio = document.getElementById("audio");
  const transcriptBox = document.getElementById("transcript");
  const ORDER = ["attitude_error", "forbidden_phrase", "script_section", "mandatory_point", "objection",
    "silence", "interruption", "speech_rate"];
  // The values a reviewer may choose, when an older API does not list them per finding.
  const ALLOWED = {script_section: ["hit", "missed"], mandatory_point: ["hit", "missed"],
    objection: ["handled", "unhandled"]};
  const allowed = (f) => f.allowed_statuses || ALLOWED[f.category] || ["violation", "dismissed"];

  let ev = null, utterances = [], uttEls = [], ws = null, regions = null, marks = [], current = -1, findingPos = -1;

  // ---- player -------------------------------------------------------------------------------
  function seek(t, play) {
    audio.currentTime = Math.max(0, Math.min(t, audio.duration || t));
    follow();
    if (play) start();
  }
  // play() is refused when a pause comes first (a quick double key press): not an error.
  const start = () => audio.play().catch(() => {});
  const toggle = () => (audio.paused ? start() : audio.pause());
  audio.addEventListener("play", () => { document.getElementById("play").textContent = t("❚❚ Pause"); });
  audio.addEventListener("pause", () => { document.getElementById("play").textContent = t("▶ Play"); });
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("seeked", follow);
  document.getElementById("play").addEventListener("click", toggle);
  document.getElementById("back5").addEventListener("click", () => seek(audio.currentTime - 5));
  document.getElementById("fwd5").addEventListener("click", () => seek(audio.currentTime + 5));
  document.getElementById("next-finding").addEventListener("click", () => stepFinding(1));
  document.getElementById("prev-finding").addEventListener("click", () => stepFinding(-1));
  // Playback speed: the reviewer listens faster where nothing is wrong.
  for (const b of document.querySelectorAll(".speed")) b.addEventListener("click", () => {
    audio.playbackRate = Number(b.dataset.rate);
    for (const x of document.querySelectorAll(".speed")) x.classList.toggle("active", x === b);
  });

  // Skip silence: while playing, a pause of more than a second between utterances is jumped
  // over to the next one's start.
  const skip = document.getElementById("skip-silence");
  audio.addEventListener("timeupdate", () => {
    if (!skip.checked || audio.paused) return;
    const t = audio.currentTime;
    if (utterances.some((u) => u.start - 0.2 <= t && t < u.end)) return;
    const next = utterances.find((u) => u.start > t);
    if (next && next.start - t > 1) audio.currentTime = next.start - 0.2;
  });

  // Search inside the transcript: matching utterances marked, Enter plays from the next one.
  const search = document.getElementById("t-search");
  let hits = [], hitAt = -1;
  function findInTranscript() {
    const q = search.value.trim();
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);  // every word in the line
    hits = [];
    uttEls.forEach((el, i) => {
      const text = utterances[i].text.toLowerCase();
      const on = words.length > 0 && words.every((w) => text.includes(w));
      el.classList.toggle("hit", on);
      if (on) hits.push(i);
    });
    hitAt = -1;
    document.getElementById("t-hits").textContent = q ? t("{n} found", {n: hits.length}) : "";
  }
  search.addEventListener("input", findInTranscript);
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || !hits.length) return;
    e.preventDefault();
    hitAt = (hitAt + 1) % hits.length;
    const i = hits[hitAt];
    document.getElementById("t-hits").textContent = t("{i} of {n}", {i: hitAt + 1, n: hits.length});
    uttEls[i].scrollIntoView({block: "center"});
    seek(utterances[i].start);
  });

  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    if (k === " ") toggle();
    else if (k === "ArrowLeft") seek(audio.currentTime - 5);
    else if (k === "ArrowRight") seek(audio.currentTime + 5);
    else if (k === "j" || k === "J") stepFinding(1);
    else if (k === "k" || k === "K") stepFinding(-1);
    else return;
    e.preventDefault();
  });

  /* The utterance being heard: the last one that started at or before now. */
  function follow() {
    const t = audio.currentTime;
    document.getElementById("clock").textContent = clock(t) + " / " + clock(audio.duration || (ev && ev.duration) || 0);
    // The add form's start follows playback (from 0 on), unless the reviewer is typing in it.
    const a = document.getElementById("add-start");
    if (a && document.activeElement !== a) a.value = t.toFixed(1);
    let i = -1;
    for (let j = 0; j < utterances.length && utterances[j].start <= t + 0.05; j++) i = j;
    if (i === current) return;
    if (current >= 0 && uttEls[current]) uttEls[current].classList.remove("current");
    current = i;
    if (i >= 0) {
      const el = uttEls[i];
      el.classList.add("current");
      const box = transcriptBox.getBoundingClientRect(), r = el.getBoundingClientRect();
      if (r.top < box.top || r.bottom > box.bottom) transcriptBox.scrollTop += r.top - box.top - box.height / 3;
    }
  }

  function setupPlayer() {
    // The page's <audio> already loads the recording (range requests): playable before the
    // waveform is drawn; wavesurfer reuses that element.
    if (!audio.getAttribute("src")) audio.src = `/recordings/${ev.recording_id}/audio`;
    ws = WaveSurfer.create({container: "#waveform", media: audio, height: 60, splitChannels: [
      {waveColor: "#8fb3f5", progressColor: "#1f6feb"}, {waveColor: "#cfa6e0", progressColor: "#8e44ad"}],
      normalize: true, cursorColor: "#c62828", cursorWidth: 2, dragToSeek: true,
      plugins: [WaveSurfer.Timeline.create({container: "#timeline", timeInterval: 1, primaryLabelInterval: 10})]});
    regions = ws.registerPlugin(WaveSurfer.Regions.create());
    ws.on("decode", () => { lanes(); drawRegions(); document.body.dataset.waveform = "1"; });
    ws.on("error", (e) => QA.toast(t("The waveform did not load: {error}", {error: e}), true));
  }

  /* Which channel is the agent: the one louder while the transcript says the agent speaks. */
  function lanes() {
    const data = ws.getDecodedData();
    const box = document.getElementById("lanes");
    if (!data) return;
    if (data.numberOfChannels < 2) { box.replaceChildren(h("span", {}, t("Mono (agent + customer)"))); return; }
    const rate = data.sampleRate;
    const loud = (ch, role) => {
      const x = data.getChannelData(ch);
      let sum = 0, n = 0;
      for (const u of utterances) if (u.role === role) {
        for (let i = Math.floor(u.start * rate); i < Math.min(x.length, u.end * rate); i += 16) { sum += Math.abs(x[i]); n++; }
      }
      return n ? sum / n : 0;
    };
    const firstIsAgent = loud(0, "agent") - loud(1, "agent") >= loud(0, "customer") - loud(1, "customer");
    const names = firstIsAgent ? [ROLES_ZH.agent, ROLES_ZH.customer] : [ROLES_ZH.customer, ROLES_ZH.agent];
    box.replaceChildren(...names.map((n) => h("span", {class: n === ROLES_ZH.agent ? "who-agent" : "who-customer"}, n)));
    box.dataset.lanes = names.join(",");
  }

  function drawRegions() {
    if (!regions) return;
    regions.clearRegions();
    for (const f of ev.findings) {
      const color = f.category === "silence" ? "rgba(198,40,40,.25)" : f.category === "interruption" ? "rgba(142,68,173,.25)"
        : BAD.has(f.status) ? "rgba(255,193,7,.30)" : null;
      if (!color) continue;
      for (const e of f.evidence || []) {
        if (e.start === undefined || e.end === undefined) continue;
        regions.addRegion({start: e.start, end: Math.max(e.end, e.start + 0.2), color, drag: false, resize: false,
          content: CATEGORIES[f.category] && (f.category === "silence" || f.category === "interruption") ? CATEGORIES[f.category] : undefined});
      }
    }
  }

  // ---- transcript ---------------------------------------------------------------------------
  /* Evidence spans per utterance: the matched text inside the utterance, marked. */
  function spansFor(u) {
    const out = [];
    for (const m of marks) {
      if (m.role && m.role !== u.role) continue;
      if (m.end < u.start - 0.05 || m.start > u.end + 0.05) continue;
      const needle = m.matched || m.phrase;
      const at = needle ? u.text.indexOf(needle) : -1;
      if (at >= 0) out.push({from: at, to: at + needle.length, bad: m.bad});
    }
    return out.sort((a, b) => a.from - b.from);
  }

  function textWithMarks(u) {
    const parts = [];
    let pos = 0;
    for (const s of spansFor(u)) {
      if (s.from < pos) continue;
      parts.push(u.text.slice(pos, s.from), h("mark", {class: s.bad ? "bad" : null}, u.text.slice(s.from, s.to)));
      pos = s.to;
    }
    parts.push(u.text.slice(pos));
    return parts;
  }

  function renderTranscript() {
    uttEls = utterances.map((u, i) => h("div", {class: "utt " + u.role, dataset: {start: u.start, end: u.end, index: i},
      onclick: () => seek(u.start, true)},
      h("span", {class: "meta"}, clock(u.start)), h("span", {class: "who"}, (ROLES_ZH[u.role] || u.role) + t(": ")),
      h("span", {class: "text"}, textWithMarks(u))));
    transcriptBox.replaceChildren(...uttEls);
    current = -1;
    follow();
    if (search.value.trim()) findInTranscript();
  }

  // Opened from a search across calls (?t=start&q=words): at the hit, the words marked.
  function openAtHit() {
    const at = new URLSearchParams(location.search);
    if (at.get("q")) { search.value = at.get("q"); findInTranscript(); }
    const t = Number(at.get("t"));
    if (!at.has("t") || !Number.isFinite(t) || t < 0) return;
    seek(t);
    const i = utterances.findIndex((u) => u.start >= t - 0.05);
    if (i >= 0) uttEls[i].scrollIntoView({block: "center"});
  }

  // ---- findings and reviews -----------------------------------------------------------------
  const findingEvidence = () => ev.findings.filter((f) => (f.evidence || []).length && BAD.has(f.status))
    .map((f) => ({f, t: f.evidence[0].start})).sort((a, b) => a.t - b.t);

  function stepFinding(dir) {
    const list = findingEvidence();
    if (!list.length) return;
    const t = audio.currentTime;
    let i = dir > 0 ? list.findIndex((x) => x.t > t + 0.3) : list.map((x) => x.t < t - 0.3).lastIndexOf(true);
    if (i < 0) i = dir > 0 ? 0 : list.length - 1;
    findingPos = i;
    focusFinding(list[i].f);
    seek(list[i].t);
  }

  function focusFinding(f) {
    for (const el of document.querySelectorAll(".finding.current")) el.classList.remove("current");
    const el = document.querySelector(`.finding[data-finding="${f.id}"]`);
    if (el) { el.classList.add("current"); el.scrollIntoView({block: "nearest"}); }
  }

  async function review(body) {
    try {
      const r = await api(`/evaluations/${evaluationId}/reviews`, {method: "POST", body});
      QA.toast(t("Review saved"));
      await reload(r.evaluation);
      return true;
    } catch (e) { QA.toast(t("Review not saved: {error}", {error: e.message}), true); return false; }
  }

  function actions(f) {
    if (!canReview) return null;
    const values = allowed(f).filter((v) => v !== f.status);
    const select = h("select", {class: "override-value"}, values.map((v) => h("option", {value: v}, STATUSES[v] || v)));
    const comment = h("input", {type: "text", class: "override-comment", placeholder: t("Reason (required to override)")});
    return h("div", {class: "actions"},
      h("button", {type: "button", class: "confirm", onclick: () => review({target: "finding", action: "confirm", finding_id: f.id,
        comment: comment.value.trim()})}, t("confirm")),
      select, comment,
      h("button", {type: "button", class: "override", onclick: () => {
        if (!comment.value.trim()) { QA.toast(t("Give the reason for the override"), true); comment.focus(); return; }
        review({target: "finding", action: "override", finding_id: f.id, value: select.value, comment: comment.value.trim()});
      }}, t("override")));
  }

  /* Words of several speakers (a reviewer's span) read "agent: …" per part: named in Chinese. */
  const evidenceText = (e) => e.role === "any" && e.text
    ? e.text.split(" / ").map((p) => p.replace(/^(agent|customer): /, (m, r) => ROLES_ZH[r] + t(": "))).join(" / ")
    : e.text || "";

  function findingEl(f) {
    const bad = BAD.has(f.status);
    const machine = f.machine_status === undefined ? f.status : f.machine_status;
    const changed = machine !== f.status;
    return h("div", {class: "finding " + (bad ? "is-bad" : "is-good"), dataset: {finding: f.id, rule: f.rule_id, status: f.status}},
      h("div", {class: "row"},
        h("strong", {}, f.name || f.rule_id),
        f.severity === "fatal" ? h("span", {class: "tag fatal"}, t("Fatal")) : null,
        h("span", {class: bad ? "bad status" : "good status"}, STATUSES[f.status] || f.status),
        changed ? h("span", {class: "muted"}, t("(machine: {value})", {value: STATUSES[machine] || machine || t("not found")})) : null,
        f.source === "reviewer" ? h("span", {class: "tag"}, t("reviewer's addition")) : null,
        f.deduction ? h("span", {class: "bad"}, "−" + num(f.deduction, f.deduction % 1 ? 1 : 0)) : null),
      (f.evidence || []).map((e) => h("div", {class: "ev"},
        h("a", {href: "#", class: "evidence", dataset: {start: e.start}, onclick: (x) => { x.preventDefault(); focusFinding(f); seek(e.start, true); }},
          clock(e.start)), " ", ROLES_ZH[e.role] ? ROLES_ZH[e.role] + t(": ") : "", evidenceText(e))),
      f.detail ? h("div", {class: "muted"}, f.detail) : null,
      actions(f));
  }

  function renderFindings() {
    const groups = {};
    for (const f of ev.findings) (groups[f.category] = groups[f.category] || []).push(f);
    const cats = Object.keys(groups).sort((a, b) => (ORDER.indexOf(a) + 99) % 99 - (ORDER.indexOf(b) + 99) % 99);
    document.getElementById("findings").replaceChildren(...cats.map((c) => {
      const bad = groups[c].filter((f) => BAD.has(f.status)).length;
      return h("div", {class: "cat", dataset: {category: c}}, h("h3", {}, bad ? t("{category} ({n} items, {bad} with deductions)", {category: CATEGORIES[c] || c, n: groups[c].length, bad})
        : t("{category} ({n} items)", {category: CATEGORIES[c] || c, n: groups[c].length})),
        groups[c].map(findingEl));
    }));
  }

  function renderScores() {
    const m = ev.machine || {score: ev.score, grade: ev.machine_grade || ev.grade, fatal: ev.fatal};
    const r = ev.reviewed;
    const box = (id, s) => {
      const el = document.getElementById(id);
      el.querySelector(".big").textContent = s ? num(s.score) : "—";
      el.querySelector(".g").replaceChildren(s ? grade(s.grade) : h("span", {class: "muted"}, t("not reviewed")));
      if (s && s.fatal) el.querySelector(".g").append(" ", h("span", {class: "tag fatal"}, t("Fatal")));
    };
    box("machine-score", m);
    box("reviewed-score", r);
    // The grade form starts at the call's grade, not the list's first (优秀 on a failed call).
    const pick = document.getElementById("grade-value");
    if (pick && (r || m).grade) pick.value = (r || m).grade;
    breakdown();
  }

  /* A rule's name for the trail (its id only where the rubric no longer has it). */
  function ruleName(id) {
    if (!id) return "";
    const r = (ev.rules || []).find((x) => x.rule_id === id) || ev.findings.find((f) => f.rule_id === id);
    return (r && r.name) || id;
  }

  // The API names a reviewer "name (key 3)": the key's number in Chinese.
  const reviewer = (name) => String(name || "").replace(/\s*\(key (\d+)\)$/, t(" (key {n})", {n: "$1"}));

  /* Which deductions make the score, largest first; each jumps to its finding. */
  function breakdown() {
    const cut = ev.findings.filter((f) => f.deduction > 0).sort((a, b) => b.deduction - a.deduction);
    const box = document.getElementById("breakdown");
    // Built with h(): it takes nested lists and leaves out nulls (replaceChildren would not).
    box.replaceChildren(h("span", {}, cut.length ? t("Deductions: ") : t("No deductions"), cut.map((f, i) => [i ? t(" / ") : "",
      h("a", {href: "#", class: "cut", dataset: {finding: f.id, deduction: f.deduction},
        onclick: (e) => { e.preventDefault(); focusFinding(f); }},
        `${f.name || f.rule_id} −${num(f.deduction, f.deduction % 1 ? 1 : 0)}`)]),
      ev.fatal ? [" ", h("span", {class: "tag fatal"}, t("Fatal: the score counts as 0"))] : null));
  }

  function renderTrail() {
    const items = ev.reviews || [];
    document.getElementById("trail").replaceChildren(...(items.length ? items.map((r) => {
      const withdrawn = r.state === "withdrawn" || r.withdrawn_at;
      const target = r.target === "grade" ? t("grade") : (ruleName(r.rule_id) || t("finding #{id}", {id: r.finding_id}));
      const value = (v) => QA.GRADES[v] || STATUSES[v] || v || "—";
      return h("li", {dataset: {review: r.id, state: r.state || ""}},
        h("span", {class: withdrawn ? "withdrawn" : null},
          t("{when} {reviewer} {action} {target}: {before} → {after}", {when: when(r.created_at), reviewer: reviewer(r.reviewer),
            action: ACTIONS[r.action] || r.action, target, before: value(r.old_value), after: value(r.new_value)}),
          r.comment ? t("({comment})", {comment: r.comment}) : ""),
        r.state && r.state !== "applied" ? h("span", {class: "tag"}, {withdrawn: t("withdrawn"), superseded: t("superseded"), needs_rereview: t("review again")}[r.state] || r.state) : null,
        canReview && !withdrawn && r.state !== undefined ? h("button", {type: "button", class: "withdraw", onclick: async () => {
          try {
            const w = await api(`/reviews/${r.id}/withdraw`, {method: "POST", body: {comment: t("withdraw")}});
            QA.toast(t("withdrawn"));
            await reload(w.evaluation && w.evaluation.id === evaluationId ? w.evaluation : null);
          } catch (e) { QA.toast(t("Withdrawal failed: {error}", {error: e.message}), true); }
        }}, t("withdraw")) : null);
    }) : [h("li", {class: "muted"}, t("No reviews yet"))]));
  }

  function renderAddForm() {
    const rule = document.getElementById("add-rule");
    if (!rule) return;
    const rules = ev.rules || [];
    // Drawn again after every review: the reviewer's choice of rule and value is kept.
    const [keptRule, keptValue] = [rule.value, document.getElementById("add-value").value];
    rule.replaceChildren(...rules.map((r) => h("option", {value: r.rule_id, selected: r.rule_id === keptRule},
      `${CATEGORIES[r.category] || r.category} · ${r.name || r.rule_id}`)));
    const values = (keep) => {
      const r = rules.find((x) => x.rule_id === rule.value);
      const vals = r ? (r.allowed_statuses || []).filter((v) => BAD.has(v) || v === "handled") : [];
      document.getElementById("add-value").replaceChildren(...vals.map((v) => h("option", {value: v, selected: v === keep},
        STATUSES[v] || v)));
    };
    rule.onchange = () => values();
    values(keptValue);
  }

  function renderHead() {
    document.getElementById("call-title").textContent = t("Call review · {agent}", {agent: ev.agent_id || "—"});
    document.getElementById("call-meta").textContent = [ev.project, when(ev.call_time), t("{name} v{version}", {name: ev.rubric_name || ev.rubric.id, version: ev.rubric.version}),
      t("duration {d}", {d: clock(ev.duration)}), t("outcome {o}", {o: QA.OUTCOMES[ev.outcome] || ev.outcome}),
      ev.needs_rereview ? t("{n} reviews to confirm again", {n: ev.needs_rereview}) : null].filter(Boolean).join(" · ");
  }

  function marksOf() {
    marks = [];
    for (const f of ev.findings) for (const e of f.evidence || [])
      marks.push({role: e.role, start: e.start, end: e.end, matched: e.matched, phrase: e.phrase, bad: BAD.has(f.status)});
  }

  async function reload(fresh) {
    ev = fresh || await api(`/evaluations/${evaluationId}`);
    marksOf();
    renderHead(); renderScores(); renderFindings(); renderTrail(); renderAddForm();
    if (utterances.length) renderTranscript();
    if (ws && ws.getDecodedData()) drawRegions();
  }

  // ---- grade, add, next ---------------------------------------------------------------------
  const click = (id, fn) => { const el = document.getElementById(id); if (el) el.addEventListener("click", fn); };
  click("grade-override", () => {
    const comment = document.getElementById("grade-comment").value.trim();
    if (!comment) { QA.toast(t("Give the reason for the override"), true); return; }
    review({target: "grade", action: "override", value: document.getElementById("grade-value").value, comment});
  });
  click("grade-confirm", () => review({target: "grade", action: "confirm"}));
  click("add-finding", async () => {
    const startBox = document.getElementById("add-start"), endBox = document.getElementById("add-end");
    const start = startBox.value === "" ? audio.currentTime : Number(startBox.value);
    // Without an end, the span is the utterance being heard at the start (else three seconds).
    const heard = utterances.find((u) => u.start <= start + 0.05 && start < u.end);
    const typed = endBox.value === "" ? null : Number(endBox.value);
    const end = typed !== null && typed > start ? typed : heard ? heard.end : start + 3;
    const comment = document.getElementById("add-comment").value.trim();
    if (!comment) { QA.toast(t("Fill in the note"), true); return; }
    const saved = await review({target: "finding", action: "add", rule_id: document.getElementById("add-rule").value,
      value: document.getElementById("add-value").value, start, end, comment});
    if (!saved) return;
    // The next addition starts from the playback position again, with a new note.
    endBox.value = "";
    document.getElementById("add-comment").value = "";
    startBox.value = audio.currentTime.toFixed(1);
  });
  click("next-call", async () => {
    let queue = null;
    try { queue = JSON.parse(sessionStorage.getItem("qa-queue") || "null"); } catch (e) { queue = null; }
    let ids = queue ? queue.ids : (await api("/flagged?page_size=200")).items.map((i) => i.evaluation_id);
    const at = ids.indexOf(evaluationId);
    const next = ids[at + 1];
    if (next) location.href = "/calls/" + next;
    else QA.toast(t("No next call in the list"));
  });
  try {
    const q = JSON.parse(sessionStorage.getItem("qa-queue") || "null");
    if (q && q.back) document.getElementById("back").href = q.back;
  } catch (e) { /* no queue remembered */ }

  (async () => {
    try {
      [ev, utterances] = await Promise.all([api(`/evaluations/${evaluationId}`),
        api(`/recordings/${root.dataset.recording}/transcript`)]);
      await reload(ev);
      QA.remember("project", ev.project);
      QA.remember("rubric", ev.rubric.id);
      renderTranscript();
      setupPlayer();
      openAtHit();
      document.body.dataset.loaded = "1";
    } catch (e) {
      document.getElementById("findings").replaceChildren(h("p", {class: "error"}, t("Loading failed: {error}", {error: e.message})));
    }
  })();
})();
