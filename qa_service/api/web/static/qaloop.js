/* The QA department's pages: 我的通话 and 我的申诉 (agents, team leads), 申诉处理 (reviewers
 * rule, QA managers assign), 复核任务 (reviewers' queue), 抽检计划 (QA managers), 校准
 * (calibration sessions). Every text from the API goes into text nodes (QA.h). */
"use strict";
(() => {
  const {api, h, when, grade, num, pct, toast, STATUSES, CATEGORIES} = QA;
  const root = document.getElementById("qaloop");
  const view = root.dataset.view;
  const manager = root.dataset.manager === "1";

  const APPEAL_STATES = {filed: "待分配", assigned: "待裁定", upheld: "维持原判", overturned: "改判"};
  const TASK_STATES = {unassigned: "待分配", assigned: "待复核", in_progress: "复核中", done: "已复核", overdue: "逾期"};
  const TASK_REASONS = {fatal: "一票否决", low_confidence: "识别存疑", score_band: "分数段", duration_band: "时长段",
    agent_minimum: "每坐席最少抽检", random: "随机抽检", rereview: "规则新版本需重新复核", manual: "主管指派"};

  const table = (heads, rows, id) => h("table", {class: "grid", id},
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", {}, t)))), h("tbody", {}, rows));
  const empty = (text) => h("p", {class: "muted empty"}, text);
  const callLink = (evaluationId, text) => h("a", {href: "/calls/" + evaluationId}, text || "查看通话 →");
  const what = (a) => a.target === "grade" ? "等级" : (a.rule_id || "") + (a.category ? "（" + (CATEGORIES[a.category] || a.category) + "）" : "");
  const shown = (v) => STATUSES[v] || QA.GRADES[v] || v;

  function fail(err) { toast(err.message, true); }

  async function myCalls() {
    const page = await api("/evaluations?page_size=100");
    root.append(page.items.length ? table(["通话时间", "项目", "坐席", "得分", "等级", ""],
      page.items.map((i) => h("tr", {dataset: {evaluation: i.evaluation_id}},
        h("td", {}, when(i.call_time)), h("td", {}, i.project || "—"), h("td", {}, i.agent_id || "—"),
        h("td", {}, num(i.score)), h("td", {}, grade(i.grade)), h("td", {}, callLink(i.evaluation_id)))), "my-calls")
      : empty("还没有已评分的通话。"));
  }

  function appealRow(a, actions) {
    return h("tr", {dataset: {appeal: a.id}},
      h("td", {}, when(a.filed_at)), h("td", {}, a.agent_id || "—"), h("td", {}, what(a)),
      h("td", {}, shown(a.contested_value)), h("td", {}, a.reason),
      h("td", {class: "state"}, APPEAL_STATES[a.state] || a.state),
      h("td", {}, a.ruling_comment || (a.assigned_to ? "由 " + a.assigned_to + " 裁定" : "—")),
      h("td", {}, callLink(a.evaluation_id, "通话"), " ", actions || ""));
  }
  const APPEAL_HEADS = ["申诉时间", "坐席", "申诉内容", "原判", "申诉理由", "状态", "裁定意见", ""];

  async function myAppeals() {
    const rows = await api("/appeals");
    root.append(rows.length ? table(APPEAL_HEADS, rows.map((a) => appealRow(a,
      (a.state === "upheld" || a.state === "overturned") && !a.seen_at
        ? h("button", {type: "button", class: "seen", onclick: async (e) => {
            try { await api(`/appeals/${a.id}/seen`, {method: "POST"}); e.target.replaceWith("已读"); } catch (err) { fail(err); }
          }}, "已读")
        : (a.seen_at ? "已读" : ""))), "my-appeals")
      : empty("还没有申诉。在通话页上可以对不合格等级或扣分项提出申诉。"));
  }

  async function appeals() {
    const open = await api("/appeals?state=open");
    const reviewers = manager ? (await api("/users")).filter((u) => u.active && ["reviewer", "manager", "admin"].includes(u.role)) : [];
    const mine = new Set((await api("/appeals?state=assigned&assigned_to_me=true")).map((a) => a.id));
    function actions(a) {
      const box = h("span", {class: "appeal-actions"});
      if (manager) {
        const pick = h("select", {class: "assignee"}, h("option", {value: ""}, "指派给…"),
          reviewers.filter((u) => u.name !== a.contested_by).map((u) => h("option", {value: u.name, selected: u.name === a.assigned_to}, u.name)));
        box.append(pick, h("button", {type: "button", class: "assign", onclick: async () => {
          if (!pick.value) return;
          try { await api(`/appeals/${a.id}/assign`, {method: "POST", body: {reviewer: pick.value}}); toast("已指派给 " + pick.value); reload(); } catch (err) { fail(err); }
        }}, "指派"));
      }
      if (mine.has(a.id)) {
        const comment = h("input", {class: "ruling-comment", placeholder: "裁定意见（必填）", size: 24});
        const gradeSel = a.target === "grade" ? h("select", {class: "ruling-grade"}, h("option", {value: "pass"}, "合格"), h("option", {value: "excellent"}, "优秀")) : null;
        const rule = (decision) => async () => {
          try {
            await api(`/appeals/${a.id}/ruling`, {method: "POST", body: {decision, comment: comment.value, grade: gradeSel && decision === "overturned" ? gradeSel.value : null}});
            toast(decision === "overturned" ? "已改判" : "已维持原判"); reload();
          } catch (err) { fail(err); }
        };
        box.append(comment, gradeSel || "", h("button", {type: "button", class: "overturn", onclick: rule("overturned")}, "改判（申诉成立）"),
          h("button", {type: "button", class: "uphold", onclick: rule("upheld")}, "维持原判"));
      }
      return box;
    }
    root.append(open.length ? table(APPEAL_HEADS, open.map((a) => appealRow(a, actions(a))), "appeals")
      : empty("没有待处理的申诉。"));
    const rates = await api("/appeals/rates");
    const rateTable = (title, rows) => h("div", {class: "card"}, h("h3", {}, title),
      rows.length ? table(["", "申诉数", "已裁定", "改判数", "申诉率", "改判率"], rows.map((r) => h("tr", {},
        h("td", {}, r.key || "—"), h("td", {}, r.appeals), h("td", {}, r.ruled), h("td", {}, r.overturned),
        h("td", {}, pct(r.appeal_rate)), h("td", {}, pct(r.overturn_rate))))) : empty("暂无"));
    root.append(h("div", {class: "cards"}, rateTable("按规则", rates.by_rule), rateTable("按原判人（机器或质检员）", rates.by_reviewer),
      rateTable("按坐席", rates.by_agent)));
  }

  async function tasks() {
    const rows = await api("/tasks" + (manager ? "?mine=false" : ""));
    const step = (t, name, label) => h("button", {type: "button", class: name, onclick: async () => {
      try { await api(`/tasks/${t.id}/${name}`, {method: "POST"}); toast(label + "：任务 " + t.id); reload(); } catch (err) { fail(err); }
    }}, label);
    root.append(rows.length ? table(["通话时间", "项目", "坐席", "抽检原因", "状态", "处理人", "截止", ""], rows.map((t) =>
      h("tr", {dataset: {task: t.id}, class: t.state === "overdue" ? "overdue" : null},
        h("td", {}, when(t.call_time)), h("td", {}, t.project || "—"), h("td", {}, t.agent_id || "—"),
        h("td", {}, TASK_REASONS[t.reason] || t.reason), h("td", {class: "state"}, TASK_STATES[t.state] || t.state),
        h("td", {}, t.assignee || "—"), h("td", {}, when(t.due_at)),
        h("td", {}, callLink(t.evaluation_id, "听录音"), " ",
          t.state === "done" ? "" : [step(t, "claim", "领取"), step(t, "release", "退回"), step(t, "done", "标记已复核")]))), "tasks")
      : empty("没有复核任务。"));
    if (manager) {
      const load = await api("/tasks/workload");
      root.append(h("h3", {}, "质检员工作量"), table(["质检员", "待处理", "逾期", "已完成"], load.map((r) =>
        h("tr", {}, h("td", {}, r.reviewer || "（待分配）"), h("td", {}, r.open), h("td", {}, r.overdue), h("td", {}, r.done))), "workload"));
    }
  }

  async function plans() {
    const list = await api("/plans");
    root.append(list.length ? table(["项目", "名称", "抽检规则", "质检员配额", ""], list.map((p) => {
      const day = h("input", {type: "date", class: "run-day"});
      return h("tr", {dataset: {plan: p.id}}, h("td", {}, p.project), h("td", {}, p.name), h("td", {}, describePlan(p.criteria)),
        h("td", {}, p.reviewers.map((r) => r.name + " × " + r.quota).join("，")),
        h("td", {}, day, h("button", {type: "button", class: "run", onclick: async () => {
          try {
            const run = await api(`/plans/${p.id}/run` + (day.value ? "?day=" + day.value : ""), {method: "POST"});
            toast(`生成 ${run.created} 个复核任务（候选通话 ${run.candidates} 通）`);
          } catch (err) { fail(err); }
        }}, "生成任务")));
    }), "plans") : empty("还没有抽检计划。"));
    const form = h("form", {id: "new-plan", class: "card filters"},
      h("label", {}, "项目 ", h("input", {name: "project", required: true, size: 10})),
      h("label", {}, "名称 ", h("input", {name: "name", required: true, size: 12})),
      h("label", {}, h("input", {type: "checkbox", name: "fatal", checked: true}), " 一票否决全检"),
      h("label", {}, h("input", {type: "checkbox", name: "low_confidence", checked: true}), " 识别存疑全检"),
      h("label", {}, "随机抽检 % ", h("input", {name: "random_percent", type: "number", min: 0, max: 100, step: "0.1", value: 2, size: 4})),
      h("label", {}, "每坐席至少 ", h("input", {name: "min_per_agent", type: "number", min: 0, value: 1, size: 3})),
      h("label", {}, "周期 ", h("select", {name: "per"}, h("option", {value: "day"}, "每天"), h("option", {value: "week"}, "每周"))),
      h("label", {}, "质检员:配额 ", h("input", {name: "reviewers", placeholder: "张三:20，李四:20", size: 20})),
      h("button", {type: "submit", class: "primary"}, "保存计划"));
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
        toast("已保存"); reload();
      } catch (err) { fail(err); }
    });
    root.append(h("h3", {}, "新建抽检计划"), form);
  }

  function describePlan(c) {
    const parts = [];
    if (c.fatal) parts.push("一票否决全检");
    if (c.low_confidence) parts.push("识别存疑全检");
    if (c.random_percent) parts.push("随机 " + c.random_percent + "%");
    if (c.min_per_agent) parts.push("每坐席每" + (c.per === "week" ? "周" : "天") + "至少 " + c.min_per_agent + " 通");
    for (const [lo, hi] of c.score_bands || []) parts.push(`得分 ${lo}–${hi}`);
    for (const [lo, hi] of c.duration_bands || []) parts.push(`时长 ${lo}–${hi} 秒`);
    return parts.join("；") || "—";
  }

  async function calibration() {
    const id = new URLSearchParams(location.search).get("session");
    if (id) return calibrationSession(id);
    const list = await api("/calibrations");
    root.append(list.length ? table(["名称", "规则", "质检员", "通话数", "状态", ""], list.map((c) => h("tr", {dataset: {session: c.id}},
      h("td", {}, c.name), h("td", {}, c.rubric_id), h("td", {}, c.reviewers.join("，")), h("td", {}, c.evaluation_ids.length),
      h("td", {}, c.state === "open" ? "进行中" : "已结束"), h("td", {}, h("a", {href: "/calibration?session=" + c.id}, "进入 →")))), "sessions")
      : empty("还没有校准会议。"));
    if (!manager) return;
    const form = h("form", {id: "new-session", class: "card filters"},
      h("label", {}, "名称 ", h("input", {name: "name", required: true, size: 12})),
      h("label", {}, "质检结果编号 ", h("input", {name: "evaluations", required: true, placeholder: "12，15，18", size: 14})),
      h("label", {}, "质检员 ", h("input", {name: "reviewers", required: true, placeholder: "张三，李四", size: 14})),
      h("label", {}, h("input", {type: "checkbox", name: "hide", checked: true}), " 不显示机器结果"),
      h("button", {type: "submit", class: "primary"}, "发起校准"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = form.elements, split = (v) => v.split(/[,，\s]+/).filter(Boolean);
      try {
        const c = await api("/calibrations", {method: "POST", body: {name: f.name.value, evaluation_ids: split(f.evaluations.value).map(Number),
          reviewers: split(f.reviewers.value), hide_machine: f.hide.checked}});
        location.href = "/calibration?session=" + c.id;
      } catch (err) { fail(err); }
    });
    root.append(h("h3", {}, "发起校准会议"), form);
  }

  async function calibrationSession(id) {
    const c = await api("/calibrations/" + id);
    root.append(h("p", {}, `${c.name} · ${c.rubric_id} · 质检员 ${c.reviewers.join("，")} · ${c.state === "open" ? "进行中（互相不可见）" : "已结束"}`));
    for (const call of c.calls) {
      const selects = call.items.map((item) => {
        const sel = h("select", {name: item.rule_id}, h("option", {value: ""}, "—"),
          item.allowed.map((v) => h("option", {value: v, selected: v === item.mine}, shown(v))));
        return h("label", {class: "cal-item"}, item.rule_id === "grade" ? "等级" : item.rule_id, " ", sel,
          item.machine ? h("span", {class: "muted"}, "（机器：" + shown(item.machine) + "）") : "");
      });
      const save = h("button", {type: "button", class: "primary save", onclick: async () => {
        const values = {};
        for (const label of selects) { const s = label.querySelector("select"); if (s.value) values[s.name] = s.value; }
        try { await api(`/calibrations/${id}/scores`, {method: "PUT", body: {evaluation_id: call.evaluation_id, values}}); toast("已保存"); } catch (err) { fail(err); }
      }}, "保存");
      root.append(h("div", {class: "card cal-call", dataset: {evaluation: call.evaluation_id}},
        h("h3", {}, "通话 ", callLink(call.evaluation_id, String(call.recording_id)), " · 坐席 ", call.agent_id || "—"), selects, save));
    }
    if (manager || c.state !== "open") {
      try {
        const r = await api(`/calibrations/${id}/report`);
        root.append(h("div", {class: "card", id: "cal-report"}, h("h3", {}, "一致性"),
          h("p", {}, `整体：一致率 ${pct(r.overall.percent)}，Krippendorff α ${r.overall.alpha === null ? "—" : r.overall.alpha}（${r.overall.items} 项）；机器与共识一致 ${pct(r.machine)}`),
          table(["规则", "项数", "一致率", "α"], Object.entries(r.per_rule).map(([k, a]) => h("tr", {},
            h("td", {}, k === "grade" ? "等级" : k), h("td", {}, a.items), h("td", {}, pct(a.percent)), h("td", {}, a.alpha === null ? "—" : a.alpha)))),
          table(["质检员", "已评项", "偏离共识"], Object.entries(r.deviation).map(([k, d]) => h("tr", {},
            h("td", {}, k), h("td", {}, r.progress[k] || 0), h("td", {}, pct(d)))))));
      } catch (err) { /* a participant sees agreement once the session is closed */ }
    }
    if (manager && c.state === "open") {
      const apply = h("input", {type: "checkbox", id: "apply", checked: true});
      root.append(h("p", {}, h("label", {}, apply, " 结束时把共识写入复核结果 "), h("button", {type: "button", id: "close", onclick: async () => {
        try { const r = await api(`/calibrations/${id}/close`, {method: "POST", body: {apply: apply.checked}}); toast(`已结束，写入 ${r.reviews} 条复核`); reload(); } catch (err) { fail(err); }
      }}, "结束校准")));
    }
  }

  function reload() { root.replaceChildren(); run(); }
  const VIEWS = {my_calls: myCalls, my_appeals: myAppeals, appeals, tasks, plans, calibration};
  function run() { VIEWS[view]().catch(fail); }
  run();
})();
