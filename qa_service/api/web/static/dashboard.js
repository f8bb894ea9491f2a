/* 质检看板: /kpis by project, agent, day or hour as charts (formula on hover), /kpis/errors as a
 * ranking with example calls, /projects/{p}/inflight for the first 2, 4 and 6 hours and the
 * newest hourly bulletin (/projects/{p}/bulletins). */
"use strict";
(() => {
  const {t, api, h, pct, num, CATEGORIES} = QA;
  const form = document.getElementById("filters");
  const FORMULAS = {
    listened_pass_rate: [t("Monitoring pass rate"), t("calls a reviewer listened to and graded pass or excellent ÷ calls listened to")],
    pass_rate: [t("Machine pass rate"), t("calls the machine graded pass or excellent ÷ calls the machine scored (the monitoring pass rate counts only calls a reviewer checked)")],
    excellent_rate: [t("Excellent rate"), t("recordings graded excellent ÷ recordings scored")],
    success_rate: [t("Online success rate"), t("successes ÷ calls made by agents")],
    average_talk_seconds: [t("Average outbound talk time"), t("total talk time ÷ calls (seconds)")],
    fatal: [t("Fatal"), t("calls with a fatal item (fatal error)")],
  };
  const charts = {};
  const chart = (id) => charts[id] || (charts[id] = echarts.init(document.getElementById(id), null, {renderer: "canvas"}));
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

  const query = () => QA.filterQuery(form);

  function cards(rows) {
    const s = rows.reduce((a, r) => {
      a.n += r.evaluated; a.passed += r.passed; a.excellent += r.excellent; a.success += r.success;
      a.fatal += r.fatal; a.talk += r.average_talk_seconds * r.evaluated;
      a.heard += r.listened || 0; a.heardPassed += r.listened_passed || 0; return a;
    }, {n: 0, passed: 0, excellent: 0, success: 0, fatal: 0, talk: 0, heard: 0, heardPassed: 0});
    const v = {listened_pass_rate: pct(s.heard ? s.heardPassed / s.heard : null), pass_rate: pct(s.n ? s.passed / s.n : null), excellent_rate: pct(s.n ? s.excellent / s.n : null),
      success_rate: pct(s.n ? s.success / s.n : null), average_talk_seconds: s.n ? t("{n} s", {n: num(s.talk / s.n)}) : "—",
      fatal: String(s.fatal)};
    document.getElementById("kpi-cards").replaceChildren(...Object.entries(FORMULAS).map(([k, [name, f]]) =>
      h("div", {class: "card kpi", title: name + " = " + f, dataset: {kpi: k}},
        h("div", {class: "n"}, name), h("div", {class: "v"}, v[k]),
        h("div", {class: "muted"}, k === "listened_pass_rate" ? t("{n} calls listened to", {n: s.heard}) : t("{n} calls in all", {n: s.n})))));
  }

  function draw(rows, group) {
    const labels = rows.map((r) => String(r[group]).replace("T", " ").slice(0, group === "hour" ? 16 : 40));
    // The tooltip formatter returns HTML: only numbers and our labels go into it, the group
    // label (an agent id or project name from the data) is escaped first. Axis labels are drawn
    // as text on the canvas: they take the label as it is.
    const esc = (s) => s.replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
    const tip = (keys) => ({trigger: "axis", formatter: (ps) => {
      const r = rows[ps[0].dataIndex];
      return [esc(labels[ps[0].dataIndex]) + t(" ({n} calls)", {n: r.evaluated}), ...keys.map((k) => {
        const [name, f] = FORMULAS[k];
        const val = k.endsWith("rate") ? pct(r[k]) : num(r[k], k === "fatal" ? 0 : 1);
        return t("{name}: {value}", {name, value: val}) + `<br><span style="color:#888">= ${f}</span>`;
      })].join("<br>");
    }});
    // Every bar keeps its label (ECharts drops some when they crowd: on a phone, half of them),
    // tilted when there are many or the chart is narrow.
    const narrow = document.getElementById("chart-rates").clientWidth < 600;
    const axisLabel = {interval: 0, rotate: labels.length > 6 || (narrow && labels.length > 2) ? 30 : 0};
    const rate = (k) => ({name: FORMULAS[k][0], type: "bar", data: rows.map((r) => +(r[k] * 100).toFixed(1))});
    chart("chart-rates").setOption({
      tooltip: tip(["pass_rate", "excellent_rate", "success_rate"]), legend: {top: 0},
      grid: {left: 40, right: 10, top: 30, bottom: axisLabel.rotate ? 80 : 50}, xAxis: {type: "category", data: labels, axisLabel},
      yAxis: {type: "value", max: 100, axisLabel: {formatter: "{value}%"}},
      series: ["pass_rate", "excellent_rate", "success_rate"].map(rate)}, true);
    chart("chart-talk").setOption({
      tooltip: tip(["average_talk_seconds", "fatal"]), legend: {top: 0},
      grid: {left: 40, right: 40, top: 30, bottom: axisLabel.rotate ? 80 : 50}, xAxis: {type: "category", data: labels, axisLabel},
      yAxis: [{type: "value", name: t("s")}, {type: "value", name: t("call count"), minInterval: 1}],
      series: [{name: t("Average outbound talk time"), type: "bar", data: rows.map((r) => r.average_talk_seconds)},
               {name: t("Fatal"), type: "line", yAxisIndex: 1, data: rows.map((r) => r.fatal)}]}, true);
  }

  /* The export links follow the filters shown. */
  const exportLinks = (what, q) => QA.exportLinks(`export-${what}`, `/exports/${what}`, q);

  /* Drill-down: the calls behind a bar, a day or an error row, in the queue's 全部通话 (or the
   * flagged list for a rule), with the dashboard's filters. */
  function callsOf(extra, tab = "all") {
    const q = new URLSearchParams({tab});
    for (const [k, v] of new FormData(form)) if (v && ["project", "agent", "since", "until"].includes(k)) q.set(k, v);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return "/queue?" + q;
  }
  function drill(group, row) {
    if (group === "project" || group === "agent") return callsOf({[group]: row[group]});
    if (group === "day") return callsOf({since: row.day, until: row.day});
    return null;
  }

  async function trend() {
    const q = query();
    q.set("group_by", "day");
    const days = await api("/kpis?" + q);
    const c = chart("chart-trend");
    c.setOption({tooltip: {trigger: "axis"}, legend: {top: 0}, grid: {left: 40, right: 10, top: 30, bottom: 30},
      xAxis: {type: "category", data: days.map((d) => d.day)},
      yAxis: {type: "value", min: 0, max: 100, axisLabel: {formatter: "{value}%"}},
      series: ["listened_pass_rate", "pass_rate", "excellent_rate"].map((k) => ({name: FORMULAS[k][0], type: "line", symbolSize: 8,
        connectNulls: false, data: days.map((d) => d[k] == null ? null : +(d[k] * 100).toFixed(1))}))}, true);
    c.off("click");
    c.on("click", (p) => { location.href = callsOf({since: days[p.dataIndex].day, until: days[p.dataIndex].day}); });
  }

  function errorsTable(items, tbody) {
    tbody.replaceChildren(...(items.length ? items.map((e, i) => h("tr", {class: "clickable", dataset: {rule: e.rule_id},
      onclick: (x) => { if (!x.target.closest("a")) location.href = callsOf({rule: e.rule_id}, "flagged"); }},
      h("td", {}, i + 1), h("td", {}, e.name || e.rule_id), h("td", {}, CATEGORIES[e.category] || e.category),
      h("td", {}, e.count), h("td", {}, pct(e.share)),
      h("td", {}, QA.exampleLinks(e.example_recordings, e.example_calls))))
      : [h("tr", {}, h("td", {colspan: 6, class: "muted"}, t("No deductions")))]));
  }

  async function inflight(project) {
    const box = document.getElementById("inflight");
    const voice = document.getElementById("inflight-voice");
    voice.replaceChildren();
    if (!project) { box.replaceChildren(h("p", {class: "muted"}, t("No projects"))); return; }
    const data = await api("/projects/" + encodeURIComponent(project) + "/inflight");
    if (!data.start) { box.replaceChildren(h("p", {class: "muted"}, t("This project has no production calls yet"))); return; }
    box.replaceChildren(h("p", {class: "muted"}, t("Launched (first production call) {when}", {when: QA.when(data.start)})),
      h("table", {class: "grid"}, h("thead", {}, h("tr", {}, [t("Period"), t("Calls"), t("Machine pass rate"), t("Excellent rate"), t("Online success rate"), t("Fatal"), t("Main errors")].map((x) => h("th", {}, x)))),
        h("tbody", {}, data.windows.map((w) => h("tr", {},
          h("td", {}, t("First {hours} hours after launch", {hours: w.hours})), h("td", {}, w.kpis ? w.kpis.evaluated : 0),
          h("td", {}, pct(w.kpis && w.kpis.pass_rate)), h("td", {}, pct(w.kpis && w.kpis.excellent_rate)),
          h("td", {}, pct(w.kpis && w.kpis.success_rate)), h("td", {}, w.kpis ? w.kpis.fatal : 0),
          h("td", {}, w.common_errors.slice(0, 3).map((e) => e.name || e.rule_id).join(t(", ")) || "—"))))),
      ...bulletin(await api("/projects/" + encodeURIComponent(project) + "/bulletins?limit=1")));
    if (data.customer_voice) {
      const tables = h("div", {});
      voice.append(h("h3", {}, t("Customer questions and refusals in the first {hours} hours after launch", {hours: Math.max(...data.windows.map((w) => w.hours))})), tables);
      QAVoice.render(tables, data.customer_voice);
    }
  }

  // 整点通报: the newest hourly bulletin; fatal and attitude errors first, then whom to remind.
  function bulletin([b]) {
    if (!b) return [h("p", {class: "muted", id: "bulletin"}, t("No hourly bulletin yet (one each hour on the first day after launch)"))];
    const name = (e) => e.name || e.rule_id;
    return [h("div", {id: "bulletin"},
      h("h3", {}, t("Hourly bulletin {when} (hour {hours} after launch)", {when: QA.when(b.hour), hours: b.hours_since_launch})),
      h("p", {}, h("strong", {}, t("Fatal and attitude errors: ")),
        b.urgent.length ? b.urgent.map((e) => t("{name}{fatal} {calls} calls ({agents})", {name: name(e), fatal: e.fatal ? t(" (fatal)") : "", calls: e.calls, agents: e.agents.join(t(", "))})).join(t("; ")) : t("none")),
      h("p", {}, h("strong", {}, t("Common errors: ")), b.common_errors.map((e) => t("{name} {count} calls", {name: name(e), count: e.count})).join(t("; ")) || t("none")),
      h("table", {class: "grid", id: "remind-now"}, h("thead", {}, h("tr", {}, [t("Remind now: agent"), t("Error"), t("Call")].map((x) => h("th", {}, x)))),
        h("tbody", {}, b.remind_now.length ? b.remind_now.map((r) => h("tr", {class: r.urgent ? "fatal" : ""},
          h("td", {}, r.agent_id), h("td", {}, name(r)), h("td", {}, QA.callLink(r.call, r.recording_id))))
          : [h("tr", {}, h("td", {colspan: 3, class: "muted"}, t("Nobody to remind for the last hour")))])))];
  }

  async function load() {
    const q = query();
    const group = q.get("group_by") || "project";
    const rows = await api("/kpis?" + q);
    exportLinks("kpis", q);
    cards(rows);
    draw(rows, group);
    for (const id of ["chart-rates", "chart-talk"]) {
      chart(id).off("click");
      chart(id).on("click", (p) => { const to = drill(group, rows[p.dataIndex]); if (to) location.href = to; });
    }
    await trend();
    q.delete("group_by"); q.delete("phase");
    errorsTable(await api("/kpis/errors?" + q), document.querySelector("#errors tbody"));
    exportLinks("errors", q);
    document.body.dataset.loaded = "1";
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load().catch((err) => QA.toast(err.message, true)); });
  const sel = document.getElementById("inflight-project");
  sel.addEventListener("change", () => inflight(sel.value).catch((err) => QA.toast(err.message, true)));
  QA.projects().then((ps) => {
    QA.fillSelect(form.elements.project, ps);
    const project = QA.preferredProject(ps);
    QA.fillSelect(sel, ps, project);
    return Promise.all([load(), inflight(project)]);
  }).catch((err) => QA.toast(err.message, true));
})();
