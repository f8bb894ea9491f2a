/* Shared helpers for the pages: JSON API calls (cookie session + CSRF header), building DOM
 * nodes from untrusted text (always text nodes, never innerHTML), Chinese labels. */
"use strict";
const QA = (() => {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const role = (document.querySelector('meta[name="role"]') || {}).content || "viewer";
  // domain/enums.ROLE_LEVEL: agents and team leads see their own calls; staff from viewer on
  const LEVEL = {agent: 0, team_lead: 0, viewer: 1, reviewer: 2, manager: 3, admin: 4};
  const can = (needed) => (LEVEL[role] || 0) >= LEVEL[needed];

  // What the page scripts say, in the service's language: the catalog's messages the page
  // carries (base.html); a msgid not among them reads as itself (English).
  const MESSAGES = (() => {
    const el = document.getElementById("qa-messages");
    try { return el ? JSON.parse(el.textContent) : {}; } catch (e) { return {}; }
  })();
  function t(msgid, fields) {
    const text = MESSAGES[msgid] || msgid;
    return fields ? text.replace(/\{(\w+)\}/g, (m, k) => (k in fields ? String(fields[k]) : m)) : text;
  }

  async function api(path, {method = "GET", body, raw} = {}) {
    const headers = {"Accept": "application/json"};
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined && !raw) headers["Content-Type"] = "application/json";
    if (raw) headers["Content-Type"] = raw;
    const res = await fetch(path, {method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : (raw ? body : JSON.stringify(body))});
    if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
    const data = res.headers.get("content-type", "").includes("json") ? await res.json() : await res.text();
    if (!res.ok) {
      const err = new Error(describe(data) || res.statusText);
      err.status = res.status; err.data = data;
      throw err;
    }
    return data;
  }

  function describe(data) {
    if (!data) return "";
    if (typeof data === "string") return data;
    const d = data.detail;
    if (typeof d === "string") return d;
    if (d && d.message) return d.message;
    if (Array.isArray(d)) return d.map((e) => (e.loc ? e.loc.join(".") + ": " : "") + e.msg).join("; ");
    return JSON.stringify(data);
  }

  /* h("a", {href: "/x", class: "c", onclick: fn}, "text", child) — strings become text nodes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const GRADES = {excellent: t("excellent"), pass: t("pass"), fail: t("fail"), no_speech: t("no speech")};
  const CATEGORIES = {script_section: t("script section"), mandatory_point: t("mandatory point"),
    forbidden_phrase: t("forbidden phrase"), attitude_error: t("attitude error"), objection: t("objection handling"),
    silence: t("silence"), interruption: t("interruption"), speech_rate: t("speech rate"), product_fact: t("product fact")};
  const STATUSES = {hit: t("hit"), missed: t("missed"), violation: t("violation"), dismissed: t("dismissed"),
    handled: t("handled"), unhandled: t("unhandled")};
  const BAD = new Set(["missed", "violation", "unhandled"]);
  const REASONS = {fail: t("fail"), fatal: t("fatal"), low_confidence: t("recognition in doubt"), no_speech: t("no speech found")};
  const OUTCOMES = {success: t("success"), refusal: t("refusal"), unknown: t("unknown")};
  const ROLES_ZH = {agent: t("agent"), customer: t("customer")};
  const ACTIONS = {confirm: t("confirm"), override: t("override"), add: t("add"), withdraw: t("withdraw")};

  const SECTIONS = {greeting: t("greeting"), opening: t("opening"), product_intro: t("product introduction"),
    persuasion: t("persuasion"), closing: t("closing"), farewell: t("farewell"), agent_line: t("agent line")};
  /* A highlight's reason: "objection_handled:too_expensive" -> 异议处理：客户嫌贵; a section id -> its name. */
  function highlightReason(r, refusals) {
    const [kind, id] = String(r).split(":");
    if (kind === "objection_handled") {
      const o = (refusals || []).find((x) => x.objection_id === id);
      return t("objection handled: {name}", {name: o && o.name ? o.name : id});
    }
    return SECTIONS[kind] || r;
  }

  const pct = (x) => (x === null || x === undefined) ? "—" : (x * 100).toFixed(1) + "%";
  const num = (x, d = 1) => (x === null || x === undefined) ? "—" : Number(x).toFixed(d);
  function clock(s) {
    s = Math.max(0, s || 0);
    const m = Math.floor(s / 60), r = s - m * 60;
    return m + ":" + r.toFixed(1).padStart(4, "0");
  }
  /* The API answers times in the call center's zone with its offset (2026-11-20T07:30:00+08:00):
   * its wall clock is the text itself, whatever zone the browser is in. */
  const when = (iso) => iso ? String(iso).replace("T", " ").slice(0, 16) : "—";
  const zone = (document.querySelector('meta[name="time-zone"]') || {}).content || "Asia/Shanghai";
  /* The call center's wall clock now, as a time without an offset (what the API reads as its time). */
  function zoneNow() {
    const fmt = new Intl.DateTimeFormat("en-US", {timeZone: zone, hourCycle: "h23", year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"});
    const p = Object.fromEntries(fmt.formatToParts(new Date()).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
  }
  /* A call as people know it, its agent and call time ("B001 · 11-01 10:05"), as the API names
   * it (storage/callrefs.py: a hand-made call without a call time by its file name, else by
   * when it was stored, so labelled); #id only for a call the API could not name. */
  function callName(ref, recordingId) {
    if (!ref) return "#" + recordingId;
    const at = (iso) => when(iso).slice(5);
    const time = ref.call_time ? at(ref.call_time)
      : ref.file_name ? t("file {name}", {name: ref.file_name}) : t("stored {time}", {time: at(ref.stored_at)});
    return (ref.agent_id || "—") + " · " + time;
  }
  /* A link to the call, by its name; `href` where the page links an evaluation rather than the
   * recording's current one. */
  const callLink = (ref, recordingId, href, extra) => h("a", {class: "call-name",
    href: href || "/calls/recording/" + (ref ? ref.recording_id : recordingId)}, callName(ref, recordingId), extra || "");
  /* A report row's example calls (example_recordings, named by example_calls), space apart. */
  function exampleLinks(recordings, calls) {
    const named = new Map((calls || []).map((c) => [c.recording_id, c]));
    return (recordings || []).map((r) => [callLink(named.get(r), r), " "]);
  }
  const grade = (g) => h("span", {class: "grade g-" + g}, GRADES[g] || g || "—");

  let toastTimer;
  function toast(msg, bad) {
    const t = document.getElementById("toast");
    if (!t) return;
    t.textContent = msg;
    t.className = "show" + (bad ? " bad" : "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = ""; }, 4000);
  }

  /* The projects that have scored calls (for filter menus), from the KPI API. */
  let projectRows = [];
  async function projects() {
    projectRows = await api("/kpis?group_by=project");
    return projectRows.map((r) => r.project).filter(Boolean);
  }

  /* What this user worked on last, kept in the browser: pages open on it rather than on the
   * first name in alphabetical order. */
  const LAST = {project: "qa-last-project", rubric: "qa-last-rubric"};
  function remember(kind, value) {
    if (!value) return;
    try { localStorage.setItem(LAST[kind], value); } catch (e) { /* storage off: no memory */ }
  }
  function recalled(kind) {
    try { return localStorage.getItem(LAST[kind]); } catch (e) { return null; }
  }
  /* The project a page opens on: the one worked on last, else the one with the most calls. */
  function preferredProject(names) {
    const last = recalled("project");
    if (last && names.includes(last)) return last;
    const busiest = projectRows.filter((r) => names.includes(r.project)).sort((a, b) => b.evaluated - a.evaluated)[0];
    return busiest ? busiest.project : names[0];
  }
  /* The rubric a page opens on: the one worked on last, else the one active for the project
   * worked on last (or the busiest). */
  function preferredRubric(rubrics, project) {
    const ids = [...new Set(rubrics.map((r) => r.id))];
    const last = recalled("rubric");
    if (last && ids.includes(last)) return last;
    project = project || recalled("project");
    const active = rubrics.find((r) => (r.active_for || []).includes(project));
    return active ? active.id : ids[0];
  }
  /* Rubrics by their titles (what people call them): `rubricTitles` maps each id of /rubrics
   * to its newest version's title (for menus whose value is the id); `rubricLabel` is one
   * version as the call page names it, "畅享套餐升级外呼营销 v1" (the id where no title is stored). */
  function rubricTitles(rubrics) {
    const titles = {};
    for (const r of [...rubrics].sort((a, b) => a.version - b.version)) if (r.name) titles[r.id] = r.name;
    return titles;
  }
  function rubricLabel(rubrics, id, version) {
    const r = rubrics.find((x) => x.id === id && x.version === version);
    return t("{name} v{version}", {name: (r && r.name) || rubricTitles(rubrics)[id] || id, version});
  }
  // A project or rubric chosen in any menu of any page is the one worked on.
  document.addEventListener("change", (e) => {
    const el = e.target;
    if (!(el instanceof HTMLSelectElement)) return;
    if (el.name === "project" || /-project$/.test(el.id)) remember("project", el.value);
    if (el.name === "rubric" || el.name === "rubric_id") remember("rubric", el.value);
  });
  function fillSelect(select, values, selected, labels) {
    for (const v of values) select.append(h("option", {value: v, selected: v === selected}, (labels && labels[v]) || v));
  }

  /* A filter form as API query parameters: empty fields left out, a date range made whole days. */
  function filterQuery(form) {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      if (!v) continue;
      q.set(k, k === "since" ? v + "T00:00:00" : k === "until" ? v + "T23:59:59" : v);
    }
    return q;
  }

  /* Dates are typed and shown as 年-月-日 (2026-11-20) whatever the browser's language (its own
   * date field follows the browser's locale, mm/dd/yyyy in an English one): a text field with
   * a small calendar in Chinese. "2026/11/5" is read as 2026-11-05. */
  const pad = (n) => String(n).padStart(2, "0");
  function datePicker(input) {
    let panel = null, month = null;
    const close = () => { if (panel) { panel.remove(); panel = null; } };
    const set = (v) => { input.value = v; input.dispatchEvent(new Event("change", {bubbles: true})); close(); };
    const step = (d) => {
      let [y, m] = month;
      m += d;
      if (m < 1) { m = 12; y -= 1; } else if (m > 12) { m = 1; y += 1; }
      month = [y, m];
      draw();
    };
    function draw() {
      const [y, m] = month;
      const blank = new Date(Date.UTC(y, m - 1, 1)).getUTCDay();
      const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
      const cells = [];
      for (let i = 0; i < blank; i++) cells.push(h("span"));
      for (let d = 1; d <= days; d++) {
        const v = `${y}-${pad(m)}-${pad(d)}`;
        cells.push(h("button", {type: "button", class: "day" + (v === input.value ? " on" : ""), dataset: {date: v},
          onclick: () => set(v)}, d));
      }
      panel.replaceChildren(
        h("div", {class: "dp-head"}, h("button", {type: "button", class: "dp-prev", title: t("previous month"), onclick: () => step(-1)}, "‹"),
          h("span", {class: "dp-month"}, t("{year}-{month}", {year: y, month: m})),
          h("button", {type: "button", class: "dp-next", title: t("next month"), onclick: () => step(1)}, "›")),
        h("div", {class: "dp-grid"}, [t("Su"), t("Mo"), t("Tu"), t("We"), t("Th"), t("Fr"), t("Sa")].map((w) => h("span", {class: "dp-w"}, w)), cells),
        h("div", {class: "dp-foot"}, h("button", {type: "button", onclick: () => set("")}, t("Clear")),
          h("button", {type: "button", onclick: () => set(zoneNow().slice(0, 10))}, t("Today"))));
    }
    function open() {
      if (panel) return;
      const at = /^(\d{4})-(\d{2})/.exec(input.value) || /^(\d{4})-(\d{2})/.exec(zoneNow());
      month = [Number(at[1]), Number(at[2])];
      panel = h("div", {class: "datepicker", role: "dialog", "aria-label": t("Choose a date")});
      input.parentNode.append(panel);
      draw();
      // Near the right edge of a phone the calendar opens leftwards, inside the screen.
      if (panel.getBoundingClientRect().right > document.documentElement.clientWidth) panel.classList.add("to-left");
    }
    input.addEventListener("focus", open);
    input.addEventListener("click", open);
    input.addEventListener("keydown", (e) => { if (e.key === "Escape" || e.key === "Tab") close(); });
    input.addEventListener("change", () => {
      const m = /^\s*(\d{4})\D(\d{1,2})\D(\d{1,2})\s*$/.exec(input.value);
      if (m) input.value = `${m[1]}-${pad(m[2])}-${pad(m[3])}`;
    });
    document.addEventListener("mousedown", (e) => {
      if (panel && !panel.contains(e.target) && e.target !== input) close();
    });
  }
  for (const input of document.querySelectorAll("input.date")) datePicker(input);

  // On a phone the navigation scrolls sideways: bring the current page's entry into view.
  const here = document.querySelector("header.top nav a.active");
  if (here) {
    const nav = here.parentElement;
    const off = here.getBoundingClientRect().left - nav.getBoundingClientRect().left;
    if (nav.scrollWidth > nav.clientWidth) nav.scrollLeft += off - (nav.clientWidth - here.offsetWidth) / 2;
  }

  /* A report's download links (ids `${prefix}-xlsx`, `${prefix}-csv`) for what is shown: its
   * path and query, with the format; their paragraph shows once they lead somewhere. */
  function exportLinks(prefix, path, query) {
    for (const fmt of ["xlsx", "csv"]) {
      const q = new URLSearchParams(query || "");
      q.set("format", fmt);
      const link = document.getElementById(`${prefix}-${fmt}`);
      link.href = `${path}?${q}`;
      link.closest(".exports").hidden = false;
    }
  }

  return {t, api, h, can, role, csrf, pct, num, clock, when, zone, zoneNow, grade, toast, projects, fillSelect, describe, filterQuery,
    remember, preferredProject, preferredRubric, rubricTitles, rubricLabel, highlightReason, exportLinks, callName, callLink, exampleLinks,
    GRADES, CATEGORIES, STATUSES, BAD, REASONS, OUTCOMES, ROLES_ZH, ACTIONS};
})();
