/* The QA department's pages: 我的通话 and 我的申诉 (agents, team leads), 申诉处理 (reviewers
 * rule, QA managers assign), 复核任务 (reviewers' queue), 抽检计划 (QA managers), 校准
 * (calibration sessions). Every text from the API goes into text nodes (QA.h). */
"use strict";
(() => {
  const {t, api, h, when, grade, num, pct, toast, STATUSES, CATEGORIES} = QA;
  const root = document.getElementById("qaloop");
  const view = root.dataset.view;
  const manager = root.dataset.manager === "1";

  const APPEAL_STATES = {filed: t("to assign"), assigned: t("to rule"), upheld: t("upheld"), overturned: t("overturned")};
  const TASK_STATES = {unassigned: t("to assign"), assigned: t("To review"), in_progress: t("reviewing"), done: t("reviewed"), overdue: t("overdue")};
  const TASK_REASONS = {fatal: t("Fatal"), low_confidence: t("recognition in doubt"), score_band: t("score band"), duration_band: t("duration band"),
    agent_minimum: t("minimum per agent"), random: t("random sample"), rereview: t("new rubric version: review again"), manual: t("assigned by a manager")};

  /* A table; `stack`: a table with row actions, which on a phone shows each row as a card of
   * "heading value" lines with its actions under them (app.css), never scrolled sideways. */
  function table(heads, rows, id, stack) {
    const el = h("table", {class: stack ? "grid stack" : "grid", id},
      h("thead", {}, h("tr", {}, heads.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
    if (stack) {
      for (const tr of el.tBodies[0].rows) {
        [...tr.cells].forEach((td, i) => { td.dataset.label = heads[i] || ""; if (!heads[i]) td.classList.add("actions"); });
      }
    }
    return el;
  }
  const empty = (text) => h("p", {class: "muted empty"}, text);
  const callLink = (evaluationId, text) => h("a", {href: "/calls/" + evaluationId}, text || t("Open the call →"));
  // the rule and its category (总结成交（话术环节）); the category once where the rule is named as it (语速)
  function what(a) {
    if (a.target === "grade") return t("grade");
    const name = a.rule_name || a.rule_id || "", category = a.category ? CATEGORIES[a.category] || a.category : "";
    return name + (category && category !== name ? t("({comment})", {comment: category}) : "");
  }
  const shown = (v) => STATUSES[v] || QA.GRADES[v] || v;

  function fail(err) { toast(err.message, true); }

  async function myCalls() {
    const page = await api("/evaluations?page_size=100");
    root.append(page.items.length ? table([t("Call time"), t("Project"), t("Agent"), t("Score"), t("Grade"), ""],
      page.items.map((i) => h("tr", {dataset: {evaluation: i.evaluation_id}},
        h("td", {}, when(i.call_time)), h("td", {}, i.project || "—"), h("td", {}, i.agent_id || "—"),
        h("td", {}, num(i.score)), h("td", {}, grade(i.grade)), h("td", {}, callLink(i.evaluation_id)))), "my-calls", true)
      : empty(t("No scored calls yet.")));
  }

  function appealRow(a, actions) {
    return h("tr", {dataset: {appeal: a.id}},
      h("td", {}, when(a.filed_at)), h("td", {}, a.agent_id || "—"), h("td", {}, what(a)),
      h("td", {}, shown(a.contested_value)), h("td", {}, a.reason),
      h("td", {class: "state"}, APPEAL_STATES[a.state] || a.state),
      h("td", {}, a.ruling_comment || (a.assigned_to ? t("to be ruled by {name}", {name: a.assigned_to}) : "—")),
      h("td", {}, callLink(a.evaluation_id, t("Call")), " ", actions || ""));
  }
  const APPEAL_HEADS = [t("Filed"), t("Agent"), t("Appealed"), t("Original result"), t("Reason"), t("Status"), t("Ruling"), ""];

  async function myAppeals() {
    const rows = await api("/appeals");
    root.append(rows.length ? table(APPEAL_HEADS, rows.map((a) => appealRow(a,
      (a.state === "upheld" || a.state === "overturned") && !a.seen_at
        ? h("button", {type: "button", class: "seen", onclick: async (e) => {
            try { await api(`/appeals/${a.id}/seen`, {method: "POST"}); e.target.replaceWith(t("Seen")); } catch (err) { fail(err); }
          }}, t("Seen"))
        : (a.seen_at ? t("Seen") : ""))), "my-appeals", true)
      : empty(t("No appeals yet. On a call's page you can appeal a fail grade or a deduction.")));
  }

  async function appeals() {
    const open = await api("/appeals?state=open");
    const reviewers = manager ? (await api("/users")).filter((u) => u.active && ["reviewer", "manager", "admin"].includes(u.role)) : [];
    const mine = new Set((await api("/appeals?state=assigned&assigned_to_me=true")).map((a) => a.id));
    function actions(a) {
      const box = h("span", {class: "appeal-actions"});
      if (manager) {
        const pick = h("select", {class: "assignee"}, h("option", {value: ""}, t("Assign to…")),
          reviewers.filter((u) => u.name !== a.contested_by).map((u) => h("option", {value: u.name, selected: u.name === a.assigned_to}, u.name)));
        box.append(pick, h("button", {type: "button", class: "assign", onclick: async () => {
          if (!pick.value) return;
          try { await api(`/appeals/${a.id}/assign`, {method: "POST", body: {reviewer: pick.value}}); toast(t("Assigned to {name}", {name: pick.value})); reload(); } catch (err) { fail(err); }
        }}, t("Assign")));
      }
      if (mine.has(a.id)) {
        const comment = h("input", {class: "ruling-comment", placeholder: t("Ruling (required)"), size: 24});
        const gradeSel = a.target === "grade" ? h("select", {class: "ruling-grade"}, h("option", {value: "pass"}, t("pass")), h("option", {value: "excellent"}, t("excellent"))) : null;
        const rule = (decision) => async () => {
          try {
            await api(`/appeals/${a.id}/ruling`, {method: "POST", body: {decision, comment: comment.value, grade: gradeSel && decision === "overturned" ? gradeSel.value : null}});
            toast(decision === "overturned" ? t("Ruling: overturned") : t("Ruling: upheld")); reload();
          } catch (err) { fail(err); }
        };
        box.append(comment, gradeSel || "", h("button", {type: "button", class: "overturn", onclick: rule("overturned")}, t("Overturn (the appeal stands)")),
          h("button", {type: "button", class: "uphold", onclick: rule("upheld")}, t("upheld")));
      }
      return box;
    }
    root.append(open.length ? table(APPEAL_HEADS, open.map((a) => appealRow(a, actions(a))), "appeals", true)
      : empty(t("No appeals to handle.")));
    const rates = await api("/appeals/rates");
    // a rule by its name, the grade and the machine in words (the keys are the API's ids)
    const rateKey = (r) => r.name || (r.key === "grade" ? t("grade") : r.key === "machine" ? t("the machine") : r.key || "—");
    // Each table's first column named for what it lists; calls (and the share of them appealed,
    // at most 100%) only per agent, the one table that counts calls.
    const rateTable = (title, key, rows, calls, id) => h("div", {class: "card"}, h("h3", {}, title),
      rows.length ? table([key, t("Number of appeals"), ...(calls ? [t("Calls"), t("Calls appealed"), t("Share of calls appealed")] : []),
        t("Ruled"), t("Number overturned"), t("Overturn rate")], rows.map((r) => h("tr", {},
        h("td", {}, rateKey(r)), h("td", {}, r.appeals),
        ...(calls ? [h("td", {}, r.calls), h("td", {}, r.appealed_calls), h("td", {}, pct(r.appealed_call_rate))] : []),
        h("td", {}, r.ruled), h("td", {}, r.overturned), h("td", {}, pct(r.overturn_rate)))), id) : empty(t("None yet")));
    root.append(h("div", {class: "cards"}, rateTable(t("By rule"), t("Rule name"), rates.by_rule, false, "rates-rule"),
      rateTable(t("By who judged first (machine or reviewer)"), t("Judged first by"), rates.by_reviewer, false, "rates-reviewer"),
      rateTable(t("By agent"), t("Agent"), rates.by_agent, true, "rates-agent")));
  }

  async function tasks() {
    const rows = await api("/tasks" + (manager ? "?mine=false" : ""));
    const step = (k, name, label) => h("button", {type: "button", class: name, onclick: async () => {
      try { await api(`/tasks/${k.id}/${name}`, {method: "POST"}); toast(t("{action}: task {id}", {action: label, id: k.id})); reload(); } catch (err) { fail(err); }
    }}, label);
    root.append(rows.length ? table([t("Call time"), t("Project"), t("Agent"), t("Why sampled"), t("Status"), t("Assignee"), t("Due"), ""], rows.map((k) =>
      h("tr", {dataset: {task: k.id}, class: k.state === "overdue" ? "overdue" : null},
        h("td", {}, when(k.call_time)), h("td", {}, k.project || "—"), h("td", {}, k.agent_id || "—"),
        h("td", {}, TASK_REASONS[k.reason] || k.reason), h("td", {class: "state"}, TASK_STATES[k.state] || k.state),
        h("td", {}, k.assignee || "—"), h("td", {}, when(k.due_at)),
        h("td", {}, callLink(k.evaluation_id, t("Listen")), " ",
          k.state === "done" ? "" : [step(k, "claim", t("Claim")), step(k, "release", t("Give back")), step(k, "done", t("Mark reviewed"))]))), "tasks", true)
      : empty(t("No review tasks.")));
    if (manager) {
      const load = await api("/tasks/workload");
      root.append(h("h3", {}, t("Reviewers' workload")), table([t("Reviewer"), t("Open"), t("Overdue"), t("Done")], load.map((r) =>
        h("tr", {}, h("td", {}, r.reviewer || t("(to assign)")), h("td", {}, r.open), h("td", {}, r.overdue), h("td", {}, r.done))), "workload"));
    }
  }

  async function plans() {
    const list = await api("/plans");
    root.append(list.length ? table([t("Project"), t("Name"), t("Sampling rules"), t("Reviewer quotas"), ""], list.map((p) => {
      // a text field as on the other pages: a date field's mm/dd/yyyy follows the browser's language
      const day = h("input", {type: "text", class: "run-day date", inputmode: "numeric", autocomplete: "off", size: 10,
        placeholder: t("yyyy-mm-dd"), pattern: "\\d{4}-\\d{2}-\\d{2}", title: t("yyyy-mm-dd, e.g. 2026-11-20")});
      return h("tr", {dataset: {plan: p.id}}, h("td", {}, p.project), h("td", {}, p.name), h("td", {}, describePlan(p.criteria)),
        h("td", {}, p.reviewers.map((r) => r.name + " × " + r.quota).join(t(" / "))),
        h("td", {}, day, h("button", {type: "button", class: "run", onclick: async () => {
          try {
            const run = await api(`/plans/${p.id}/run` + (day.value ? "?day=" + day.value : ""), {method: "POST"});
            toast(t("Created {created} review tasks ({candidates} candidate calls)", {created: run.created, candidates: run.candidates}));
          } catch (err) { fail(err); }
        }}, t("Create tasks"))));
    }), "plans", true) : empty(t("No sampling plans yet.")));
    const form = h("form", {id: "new-plan", class: "card filters"},
      h("label", {}, t("Project "), h("input", {name: "project", required: true, size: 10})),
      h("label", {}, t("Name "), h("input", {name: "name", required: true, size: 12})),
      h("label", {}, h("input", {type: "checkbox", name: "fatal", checked: true}), t(" Check every fatal call")),
      h("label", {}, h("input", {type: "checkbox", name: "low_confidence", checked: true}), t(" Check every call in recognition doubt")),
      h("label", {}, t("Random sample % "), h("input", {name: "random_percent", type: "number", min: 0, max: 100, step: "0.1", value: 2, size: 4})),
      h("label", {}, t("At least per agent "), h("input", {name: "min_per_agent", type: "number", min: 0, value: 1, size: 3})),
      h("label", {}, t("Period "), h("select", {name: "per"}, h("option", {value: "day"}, t("daily")), h("option", {value: "week"}, t("weekly")))),
      h("label", {}, t("Reviewer:quota "), h("input", {name: "reviewers", placeholder: t("alice:20, bob:20"), size: 20})),
      h("button", {type: "submit", class: "primary"}, t("Save the plan")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = form.elements;
      const reviewers = f.reviewers.value.split(/[,，\s]+/).filter(Boolean).map((x) => {
        const [name, quota] = x.split(/[:：]/); return {name, quota: Number(quota || 0)};
      });
      try {
        await api("/plans", {method: "POST", body: {project: f.project.value, name: f.name.value, reviewers,
          criteria: {fatal: f.fatal.checked, low_confidence: f.low_confidence.checked, random_percent: Number(f.random_percent.value),
            min_per_agent: Number(f.min_per_agent.value), per: f.per.value}}});
        toast(t("Saved")); reload();
      } catch (err) { fail(err); }
    });
    root.append(h("h3", {}, t("New sampling plan")), form);
  }

  function describePlan(c) {
    const parts = [];
    if (c.fatal) parts.push(t("every fatal call"));
    if (c.low_confidence) parts.push(t("every call in recognition doubt"));
    if (c.random_percent) parts.push(t("random {percent}%", {percent: c.random_percent}));
    if (c.min_per_agent) parts.push(c.per === "week" ? t("at least {n} calls per agent a week", {n: c.min_per_agent}) : t("at least {n} calls per agent a day", {n: c.min_per_agent}));
    for (const [lo, hi] of c.score_bands || []) parts.push(t("score {lo}–{hi}", {lo, hi}));
    for (const [lo, hi] of c.duration_bands || []) parts.push(t("duration {lo}–{hi} s", {lo, hi}));
    return parts.join(t("; ")) || "—";
  }

  /* A session's rubric as the call page names it: its title and version (the versions of its
   * calls, where they were scored with more than one); the id only where no title is stored. */
  const rubricOf = (c) => (c.rubric_versions || []).length
    ? t("{name} v{version}", {name: c.rubric_name || c.rubric_id, version: c.rubric_versions.join("/")})
    : c.rubric_name || c.rubric_id;

  async function calibration() {
    const id = new URLSearchParams(location.search).get("session");
    if (id) return calibrationSession(id);
    const list = await api("/calibrations");
    root.append(list.length ? table([t("Name"), t("Rubric"), t("Reviewer"), t("Number of calls"), t("Status"), ""], list.map((c) => h("tr", {dataset: {session: c.id}},
      h("td", {}, c.name), h("td", {class: "rubric"}, rubricOf(c)), h("td", {}, c.reviewers.join(t(" / "))), h("td", {}, c.evaluation_ids.length),
      h("td", {}, c.state === "open" ? t("in progress") : t("closed")), h("td", {}, h("a", {href: "/calibration?session=" + c.id}, t("Enter →"))))), "sessions", true)
      : empty(t("No calibration sessions yet.")));
    if (!manager) return;
    const form = h("form", {id: "new-session", class: "card filters"},
      h("label", {}, t("Name "), h("input", {name: "name", required: true, size: 12})),
      h("label", {}, t("Evaluation ids "), h("input", {name: "evaluations", required: true, placeholder: t("12, 15, 18"), size: 14})),
      h("label", {}, t("Reviewers "), h("input", {name: "reviewers", required: true, placeholder: t("alice, bob"), size: 14})),
      h("label", {}, h("input", {type: "checkbox", name: "hide", checked: true}), t(" Hide the machine's results")),
      h("button", {type: "submit", class: "primary"}, t("Start calibration")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = form.elements, split = (v) => v.split(/[,，\s]+/).filter(Boolean);
      try {
        const c = await api("/calibrations", {method: "POST", body: {name: f.name.value, evaluation_ids: split(f.evaluations.value).map(Number),
          reviewers: split(f.reviewers.value), hide_machine: f.hide.checked}});
        location.href = "/calibration?session=" + c.id;
      } catch (err) { fail(err); }
    });
    root.append(h("h3", {}, t("Start a calibration session")), form);
  }

  async function calibrationSession(id) {
    const c = await api("/calibrations/" + id);
    root.append(h("p", {id: "cal-line"}, t("{name} · {rubric} · reviewers {reviewers} · {state}", {name: c.name, rubric: rubricOf(c), reviewers: c.reviewers.join(t(" / ")),
      state: c.state === "open" ? t("in progress (hidden from each other)") : t("closed")})));
    for (const call of c.calls) {
      const selects = call.items.map((item) => {
        const sel = h("select", {name: item.rule_id}, h("option", {value: ""}, "—"),
          item.allowed.map((v) => h("option", {value: v, selected: v === item.mine}, shown(v))));
        return h("label", {class: "cal-item"}, item.rule_id === "grade" ? t("grade") : item.name || item.rule_id, " ", sel,
          item.machine ? h("span", {class: "muted"}, t("(machine: {value})", {value: shown(item.machine)})) : "");
      });
      const save = h("button", {type: "button", class: "primary save", onclick: async () => {
        const values = {};
        for (const label of selects) { const s = label.querySelector("select"); if (s.value) values[s.name] = s.value; }
        try { await api(`/calibrations/${id}/scores`, {method: "PUT", body: {evaluation_id: call.evaluation_id, values}}); toast(t("Saved")); } catch (err) { fail(err); }
      }}, t("Save"));
      root.append(h("div", {class: "card cal-call", dataset: {evaluation: call.evaluation_id}},
        h("h3", {}, t("Call "), QA.callLink(call.call, call.recording_id, "/calls/" + call.evaluation_id)), selects, save));
    }
    if (manager || c.state !== "open") {
      try {
        const r = await api(`/calibrations/${id}/report`);
        root.append(h("div", {class: "card", id: "cal-report"}, h("h3", {}, t("Agreement")),
          h("p", {}, t("Overall: agreement {percent}, {measure} {alpha} ({items} items); machine agrees with the consensus {machine}", {percent: pct(r.overall.percent), measure: "Krippendorff α",
            alpha: r.overall.alpha === null ? "—" : r.overall.alpha, items: r.overall.items, machine: pct(r.machine)})),
          // two tables, each under its heading; the rules in the rubric's order
          h("h4", {}, t("Agreement per rule")),
          table([t("Rule name"), t("Items"), t("Agreement rate"), "α"], (r.rule_order || Object.keys(r.per_rule)).map((k) => [k, r.per_rule[k]]).map(([k, a]) => h("tr", {},
            h("td", {}, k === "grade" ? t("grade") : r.rule_names[k] || k), h("td", {}, a.items), h("td", {}, pct(a.percent)), h("td", {}, a.alpha === null ? "—" : a.alpha))), "cal-rules"),
          h("h4", {}, t("Reviewers against the consensus")),
          table([t("Reviewer"), t("Items judged"), t("Off the consensus")], Object.entries(r.deviation).map(([k, d]) => h("tr", {},
            h("td", {}, k), h("td", {}, r.progress[k] || 0), h("td", {}, pct(d)))), "cal-reviewers")));
      } catch (err) { /* a participant sees agreement once the session is closed */ }
    }
    if (manager && c.state === "open") {
      const apply = h("input", {type: "checkbox", id: "apply", checked: true});
      root.append(h("p", {}, h("label", {}, apply, t(" On closing, write the consensus into the review results ")), h("button", {type: "button", id: "close", onclick: async () => {
        try { const r = await api(`/calibrations/${id}/close`, {method: "POST", body: {apply: apply.checked}}); toast(t("Closed, {n} reviews written", {n: r.reviews})); reload(); } catch (err) { fail(err); }
      }}, t("Close the calibration"))));
    }
  }

  function reload() { root.replaceChildren(); run(); }
  const VIEWS = {my_calls: myCalls, my_appeals: myAppeals, appeals, tasks, plans, calibration};
  // data-loaded: the view has drawn its data (or its error), as on the other pages
  function run() { VIEWS[view]().catch(fail).finally(() => { document.body.dataset.loaded = "1"; }); }
  run();
})();
