/* 待复核: the flagged list (/flagged), the random 5% sample (/review-sample) and all calls
 * (/evaluations), with filters and paging; words typed in 转写搜索 search the transcripts of the
 * flagged or all calls (/search) and each result opens the call at its first hit. The ids
 * shown are kept for "next call in queue". */
"use strict";
(() => {
  const {t, api, h, when, grade, num, clock, REASONS, ROLES_ZH} = QA;
  const form = document.getElementById("filters");
  const body = document.querySelector("#queue tbody");
  const count = document.getElementById("queue-count");
  const params = new URLSearchParams(location.search);
  let tab = params.get("tab") || "flagged";
  let page = Number(params.get("page") || 1);
  const PAGE = 50;

  for (const [k, v] of params) if (form.elements[k]) form.elements[k].value = v;

  function query() {
    const q = new URLSearchParams();
    const f = new FormData(form);
    for (const [k, v] of f) {
      if (!v) continue;
      if (k === "since") q.set(k, v + "T00:00:00");
      else if (k === "until") q.set(k, v + "T23:59:59");
      else q.set(k, v);
    }
    return q;
  }

  // Each source answers some filters; the others are greyed out on its tab.
  const SOURCES = {
    flagged: {filters: ["project", "agent", "since", "until", "rule", "reviewed"],
              url: (q) => { q.set("page", page); q.set("page_size", PAGE); return "/flagged?" + q; }},
    sample: {filters: ["project", "since", "until"],
             url: (q) => { q.set("percent", "5"); q.set("page", page); q.set("page_size", PAGE); return "/review-sample?" + q; }},
    all: {filters: ["project", "agent", "since", "until", "grade", "reviewed"],
          url: (q) => { q.set("page", page); q.set("page_size", PAGE); return "/evaluations?" + q; }},
  };

  // Transcript search: the flagged tab's or all calls' filters with the words.
  const SEARCH = {
    flagged: ["q", "project", "agent", "since", "until", "rule", "reviewed"],
    all: ["q", "project", "agent", "since", "until", "grade", "reviewed"],
  };
  const words = () => (form.elements.q.value || "").trim();
  const searching = () => Boolean(words()) && tab !== "sample";

  // The call page opens at the hit, its transcript search filled with the words.
  const callAt = (item, hit) => `/calls/${item.evaluation_id}?` + new URLSearchParams({t: hit ? hit.start : 0, q: words()});

  function marked(text) {
    const terms = words().split(/\s+/).filter(Boolean).map((w) => w.toLowerCase());
    const parts = [];
    let pos = 0;
    const low = text.toLowerCase();
    while (pos < text.length) {
      let at = -1, len = 0;
      for (const w of terms) {
        const i = low.indexOf(w, pos);
        if (i >= 0 && (at < 0 || i < at)) { at = i; len = w.length; }
      }
      if (at < 0) break;
      parts.push(text.slice(pos, at), h("mark", {}, text.slice(at, at + len)));
      pos = at + len;
    }
    parts.push(text.slice(pos));
    return parts;
  }

  function hitRow(item) {
    const hits = (item.hits || []).map((hit) => h("div", {class: "search-hit"},
      h("a", {href: callAt(item, hit)}, "▶ " + clock(hit.start)), " ", (ROLES_ZH[hit.role] || hit.role) + t(": "), marked(hit.text)));
    if (item.hit_count > hits.length) hits.push(h("div", {class: "muted"}, t("{n} more lines", {n: item.hit_count - hits.length})));
    return h("tr", {class: "hits"}, h("td", {colspan: 8}, hits));
  }

  function reviewedCell(item) {
    if (item.reviewed === undefined) return "";
    if (item.needs_rereview) return h("span", {class: "tag"}, t("review again"));
    return item.reviewed ? h("span", {class: "good"}, t("reviewed")) : h("span", {class: "muted"}, t("not reviewed"));
  }

  function row(item) {
    const reasons = (item.reasons || []).map((r) => h("span", {class: "tag" + (r === "fatal" ? " fatal" : "")}, REASONS[r] || r));
    const href = searching() ? callAt(item, (item.hits || [])[0]) : "/calls/" + item.evaluation_id;
    return h("tr", {class: "clickable", dataset: {evaluation: item.evaluation_id}, onclick: () => { location.href = href; }},
      h("td", {}, when(item.call_time)), h("td", {}, item.project || "—"), h("td", {}, item.agent_id || "—"),
      h("td", {}, num(item.score)), h("td", {}, grade(item.grade)), h("td", {}, reasons.length ? reasons : "—"),
      h("td", {}, reviewedCell(item)), h("td", {}, h("a", {href}, t("Review →"))));
  }

  function rows(item) {
    return searching() ? [row(item), hitRow(item)] : [row(item)];
  }

  async function load() {
    for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.tab === tab);
    const src = searching() ? {filters: SEARCH[tab], url: (q) => {
      if (tab === "flagged") q.set("flagged", "true");
      q.set("page", page); q.set("page_size", PAGE); return "/search?" + q;
    }} : SOURCES[tab];
    for (const el of form.elements) if (el.name) el.disabled = el.name !== "q" && !src.filters.includes(el.name);
    form.elements.q.disabled = tab === "sample";
    const q = query();
    for (const k of [...q.keys()]) if (!src.filters.includes(k)) q.delete(k);
    if (tab === "sample" && !q.get("project")) {
      const first = form.elements.project.options[1];
      if (first) q.set("project", first.value);
    }
    // The export lists every call the filters select (the 全部通话 filters).
    const eq = query();
    for (const k of [...eq.keys()]) if (!SOURCES.all.filters.includes(k)) eq.delete(k);  // not q
    for (const fmt of ["xlsx", "csv"]) {
      eq.set("format", fmt);
      document.getElementById("export-calls-" + fmt).href = "/exports/evaluations?" + eq;
    }
    body.replaceChildren(h("tr", {}, h("td", {colspan: 8, class: "muted"}, t("Loading…"))));
    try {
      // The API refuses a one-character word; say so in the page's words before asking.
      const short = searching() && words().split(/\s+/).find((w) => w.length < 2);
      if (short) throw new Error(t("q: each word needs at least {n} characters ({word})", {n: 2, word: short}));
      const data = await api(src.url(q));
      const items = data.items || [];
      body.replaceChildren(...(items.length ? items.flatMap(rows) : [h("tr", {}, h("td", {colspan: 8, class: "muted"}, t("No calls match")))]));
      if (tab === "sample") count.textContent = t("Project {project}: {size} calls sampled (of {population}, {percent}%)", {project: data.project, size: data.sample_size, population: data.population, percent: data.percent});
      else {
        const n = data.total_exact === false ? t("at least {n}", {n: data.total}) : String(data.total);
        count.textContent = searching() ? t("Calls with “{q}”: {n}", {q: data.q, n}) : t("{n} calls", {n});
      }
      const pages = Math.max(1, Math.ceil(data.total / PAGE));  // the sample pages too
      document.getElementById("page-no").textContent = t("page {page} of {pages}", {page, pages});
      document.getElementById("prev").disabled = page <= 1;
      document.getElementById("next").disabled = page >= pages;
      document.body.dataset.loaded = "1";
      sessionStorage.setItem("qa-queue", JSON.stringify({ids: items.map((i) => i.evaluation_id), back: location.pathname + location.search}));
    } catch (e) {
      body.replaceChildren(h("tr", {}, h("td", {colspan: 8, class: "error"}, t("Loading failed: {error}", {error: e.message}))));
    }
  }

  /* 质检规则: the rules that cost points in the project's calls (those a call is flagged for),
   * by name; the value is the rule's id, what the API filters by. */
  async function fillRules() {
    const sel = form.elements.rule;
    const keep = sel.value || params.get("rule") || "";
    const q = new URLSearchParams({limit: 200});
    if (form.elements.project.value) q.set("project", form.elements.project.value);
    const seen = new Map();
    for (const e of await api("/kpis/errors?" + q)) if (!seen.has(e.rule_id)) seen.set(e.rule_id, e);
    const named = [...seen.values()].sort((a, b) => (a.name || a.rule_id).localeCompare(b.name || b.rule_id, "zh-CN"));
    const twice = new Set(named.map((e) => e.name).filter((n, i, all) => n && all.indexOf(n) !== i));
    sel.replaceChildren(h("option", {value: ""}, t("All")), ...named.map((e) => h("option", {value: e.rule_id, selected: e.rule_id === keep},
      twice.has(e.name) ? t("{name} ({category})", {name: e.name, category: QA.CATEGORIES[e.category] || e.category}) : e.name || e.rule_id)));
    if (keep && !seen.has(keep)) sel.append(h("option", {value: keep, selected: true}, keep));  // a link's rule no call has now
  }
  form.elements.project.addEventListener("change", () => fillRules().catch((e) => QA.toast(e.message, true)));

  function go() {
    const q = query();
    q.set("tab", tab);
    if (page > 1) q.set("page", page);
    for (const [k, v] of [...q]) if (k === "since" || k === "until") q.set(k, v.slice(0, 10));
    history.replaceState(null, "", "/queue?" + q);
    load();
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); page = 1; go(); });
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => { tab = b.dataset.tab; page = 1; go(); });
  document.getElementById("prev").addEventListener("click", () => { page -= 1; go(); });
  document.getElementById("next").addEventListener("click", () => { page += 1; go(); });

  QA.projects().then(async (ps) => { QA.fillSelect(form.elements.project, ps, params.get("project")); await fillRules(); load(); })
    .catch((e) => { count.textContent = t("Loading failed: {error}", {error: e.message}); });
})();
