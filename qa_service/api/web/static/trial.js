/* 试呼分析: /projects/{p}/trial — refusal reasons, the guide map (引导地图) as a four-quadrant
 * scatter, the highlight-script library (亮点话术) with play buttons; version comparison. */
"use strict";
(() => {
  const {api, h, pct, num} = QA;
  const form = document.getElementById("filters");
  const map = echarts.init(document.getElementById("guide-map"));
  window.addEventListener("resize", () => map.resize());
  const clip = document.getElementById("clip");
  let rubrics = [];

  // Seed 003: 第一象限 我们爱说、客户也爱听 … 第四象限 我们不爱说、客户爱听.
  const QUADRANTS = [
    {name: "第一象限：我们爱说，客户也爱听（强项）", x: [0.5, 1], y: [0.5, 1], color: "rgba(46,125,50,.08)"},
    {name: "第二象限：我们爱说，客户不爱听", x: [0.5, 1], y: [0, 0.5], color: "rgba(178,106,0,.08)"},
    {name: "第三象限：都不爱说不爱听", x: [0, 0.5], y: [0, 0.5], color: "rgba(120,120,120,.08)"},
    {name: "第四象限：我们不爱说，客户爱听（弱项）", x: [0, 0.5], y: [0.5, 1], color: "rgba(31,111,235,.08)"},
  ];

  function guideMap(points) {
    // Labels go left of points near the right edge, so that they stay inside the chart.
    const data = points.map((p) => ({name: p.name || p.point_id, value: [p.said_rate, p.positive_rate ?? 0],
      said: p.said_in_calls, replies: p.customer_replies, unknown: p.positive_rate === null,
      label: {position: p.said_rate > 0.7 ? "left" : "right"}}));
    const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
    map.setOption({
      grid: {left: 50, right: 20, top: 36, bottom: 45},
      xAxis: {type: "value", min: 0, max: 1, name: "我们爱说（说到的通话占比）", nameLocation: "middle", nameGap: 28,
              axisLabel: {formatter: (v) => v * 100 + "%"}},
      yAxis: {type: "value", min: 0, max: 1, name: "客户爱听", axisLabel: {formatter: (v) => v * 100 + "%"}},
      tooltip: {formatter: (p) => `${esc(p.name)}<br>说到 ${p.data.said} 通（${pct(p.value[0])}）<br>` +
        (p.data.unknown ? "客户回应：无可判断的回应" : `客户正面回应 ${pct(p.value[1])}`)},
      series: [{type: "scatter", symbolSize: 14, data,
        label: {show: true, position: "right", formatter: "{b}", fontSize: 12},
        markArea: {silent: true, label: {position: "insideTop", color: "#555", fontSize: 11},
          data: QUADRANTS.map((q) => [{name: q.name, xAxis: q.x[0], yAxis: q.y[0], itemStyle: {color: q.color}},
                                      {xAxis: q.x[1], yAxis: q.y[1]}])}}],
    }, true);
  }

  const SECTIONS = {greeting: "首问语", opening: "开场白", product_intro: "产品介绍", persuasion: "建议说服",
    closing: "总结成交", farewell: "结束语"};
  /* "objection_handled:too_expensive" -> 异议处理：客户嫌贵; a section id -> its name. */
  function reason(r, d) {
    const [kind, id] = String(r).split(":");
    if (kind === "objection_handled") {
      const o = d.refusal_reasons.find((x) => x.objection_id === id);
      return "异议处理：" + (o ? o.name : id);
    }
    return SECTIONS[kind] || r;
  }

  function play(example) {
    clip.src = `/recordings/${example.recording_id}/audio`;
    clip.addEventListener("loadedmetadata", () => { clip.currentTime = example.start; clip.play(); }, {once: true});
    clip.load();
  }

  async function load() {
    const project = form.elements.project.value;
    if (!project) return;
    const q = new URLSearchParams({phase: form.elements.phase.value});
    const active = rubrics.find((r) => r.active_for && r.active_for.includes(project));
    if (!active) {
      // No rubric active for the project: the one its calls were scored with, newest version.
      const used = await api("/kpis?group_by=rubric&project=" + encodeURIComponent(project));
      const versions = rubrics.filter((r) => used.some((u) => u.rubric === r.id));
      if (versions.length) {
        const last = versions[versions.length - 1];
        q.set("rubric_id", last.id); q.set("version", last.version);
      }
    }
    let d = await api(`/projects/${encodeURIComponent(project)}/trial?${q}`);
    if (!d.calls && form.elements.phase.value === "trial") {
      // No 试呼 calls in this project yet: show all its calls rather than an empty map.
      form.elements.phase.value = "";
      q.set("phase", "");
      d = await api(`/projects/${encodeURIComponent(project)}/trial?${q}`);
    }
    document.getElementById("t-summary").textContent =
      `${d.rubric.id} v${d.rubric.version}：${d.calls} 通，外呼在线成功率 ${pct(d.success_rate)}`;
    guideMap(d.guide_map);
    document.querySelector("#refusals tbody").replaceChildren(...(d.refusal_reasons.length ? d.refusal_reasons.map((r) => h("tr", {},
      h("td", {}, r.name || r.objection_id), h("td", {}, r.raised_in_calls), h("td", {}, pct(r.share_of_calls)),
      h("td", {}, pct(r.handled_rate)), h("td", {}, pct(r.success_rate_after))))
      : [h("tr", {}, h("td", {colspan: 5, class: "muted"}, "无"))]));
    document.querySelector("#highlights tbody").replaceChildren(...(d.highlights.length ? d.highlights.map((g) => h("tr", {},
      h("td", {}, g.examples.length ? h("button", {type: "button", class: "play", title: "播放",
        onclick: () => play(g.examples[0])}, "▶") : ""),
      h("td", {}, g.text), h("td", {}, reason(g.reason, d)), h("td", {}, g.calls), h("td", {}, pct(g.success_rate))))
      : [h("tr", {}, h("td", {colspan: 5, class: "muted"}, "暂无亮点话术"))]));
    document.body.dataset.loaded = "1";
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load().catch((err) => QA.toast(err.message, true)); });
  const cmp = document.getElementById("compare");
  cmp.addEventListener("submit", (e) => {
    e.preventDefault();
    QACompare.show(document.getElementById("compare-out"), cmp.elements.rubric.value, cmp.elements.from.value,
      cmp.elements.to.value, form.elements.project.value);
  });
  Promise.all([QA.projects(), api("/rubrics"), api("/kpis?group_by=project&phase=trial")]).then(([ps, rs, trials]) => {
    rubrics = rs;
    // First the project named in the address, else one with 试呼 calls.
    const wanted = new URLSearchParams(location.search).get("project") || (trials[0] && trials[0].project);
    QA.fillSelect(form.elements.project, ps, wanted);
    QA.fillSelect(cmp.elements.rubric, [...new Set(rs.map((r) => r.id))]);
    return load();
  }).catch((err) => QA.toast(err.message, true));
})();
