/* 试呼分析: /projects/{p}/trial — refusal reasons, the guide map (引导地图) as a four-quadrant
 * scatter, the highlight-script library (亮点话术) with play buttons; version comparison. */
"use strict";
(() => {
  const {t, api, h, pct, num} = QA;
  const form = document.getElementById("filters");
  const map = echarts.init(document.getElementById("guide-map"));
  window.addEventListener("resize", () => map.resize());
  const clip = document.getElementById("clip");
  let rubrics = [];

  // Seed 003: 第一象限 我们爱说、客户也爱听 … 第四象限 我们不爱说、客户爱听.
  const QUADRANTS = [
    {short: t("Quadrant I"), name: t("Quadrant I: we like to say it, customers like to hear it (strength)"), x: [0.5, 1], y: [0.5, 1], color: "rgba(46,125,50,.08)"},
    {short: t("Quadrant II"), name: t("Quadrant II: we like to say it, customers do not like to hear it"), x: [0.5, 1], y: [0, 0.5], color: "rgba(178,106,0,.08)"},
    {short: t("Quadrant III"), name: t("Quadrant III: neither said nor liked"), x: [0, 0.5], y: [0, 0.5], color: "rgba(120,120,120,.08)"},
    {short: t("Quadrant IV"), name: t("Quadrant IV: we do not like to say it, customers like to hear it (weakness)"), x: [0, 0.5], y: [0.5, 1], color: "rgba(31,111,235,.08)"},
  ];

  /* Points at the same place are drawn as one marker named by all of them (one would hide the
   * others); labels of points close together go to different sides. A point whose customer
   * reactions cannot be judged has no place on the vertical axis: listed under the map. */
  function guideMap(points) {
    const known = points.filter((p) => p.positive_rate !== null && p.positive_rate !== undefined);
    const unknown = points.filter((p) => !known.includes(p));
    const groups = new Map();
    for (const p of known) {
      const key = p.said_rate.toFixed(3) + "," + p.positive_rate.toFixed(3);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(p);
    }
    const SIDES = ["right", "left", "top", "bottom"];
    const placed = [];
    const data = [...groups.values()].map((ps) => {
      const [x, y] = [ps[0].said_rate, ps[0].positive_rate];
      // A side is taken by a close point's label on that side, or by a label on the same line
      // that runs towards this point (two labels facing each other across half the map meet).
      const clash = (s) => placed.some((q) => Math.abs(q.y - y) < 0.08 && (Math.abs(q.x - x) < 0.2 ? q.side === s
        : (s === "left" && q.side === "right" && q.x < x && x - q.x < 0.6) || (s === "right" && q.side === "left" && q.x > x && q.x - x < 0.6)));
      const side = (x > 0.7 ? ["left", "bottom", "top", "right"] : SIDES).find((s) => !clash(s)) || "top";
      placed.push({x, y, side});
      // above or below a point at an edge, the label runs inwards (centred, half of it is cut off)
      const align = side === "top" || side === "bottom" ? (x > 0.7 ? "right" : x < 0.3 ? "left" : "center") : undefined;
      return {name: ps.map((p) => p.name || p.point_id).join(t(", ")), value: [x, y], points: ps,
        symbolSize: 14 + 4 * (ps.length - 1), label: {position: side, align}};
    });
    const list = document.getElementById("guide-unknown");
    list.textContent = unknown.length
      ? t("Customer responses cannot be judged, not on the map: ") + unknown.map((p) => t("{name} (said in {calls} calls{asked})", {
        name: p.name || p.point_id, calls: p.said_in_calls,
        asked: (p.asked || []).length ? t(", customers then asked: {questions}", {questions: p.asked.join(t("; "))}) : ""})).join(t(", "))
      : "";
    const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
    // On a phone the quadrants carry their number only: their full names would run off the map.
    const narrow = map.getWidth() < 520;
    map.setOption({
      grid: {left: 50, right: 20, top: 36, bottom: 45},
      xAxis: {type: "value", min: 0, max: 1, name: t("We like to say it (share of calls that say it)"), nameLocation: "middle", nameGap: 28,
              axisLabel: {formatter: (v) => v * 100 + "%"}},
      yAxis: {type: "value", min: 0, max: 1, name: t("Customers like to hear it"), axisLabel: {formatter: (v) => v * 100 + "%"}},
      tooltip: {formatter: (p) => p.data.points.map((x) => t("{name}: said in {calls} calls ({said}), customer positive {positive}", {
        name: esc(x.name || x.point_id), calls: x.said_in_calls, said: pct(x.said_rate), positive: pct(x.positive_rate)}) +
        ((x.asked || []).length ? "<br>" + t("Customers then asked: {questions}", {questions: x.asked.map(esc).join(t("; "))}) : "")).join("<br>")},
      // A group's names wrap in a narrow block and labels that would still meet move apart
      // vertically; each quadrant is named in its middle, away from the 0/50/100% lines.
      series: [{type: "scatter", symbolSize: 14, data,
        label: {show: true, position: "right", formatter: "{b}", fontSize: 12, width: narrow ? 80 : 150, overflow: "break"},
        labelLayout: {moveOverlap: "shiftY"},
        markArea: {silent: true, label: {position: "inside", color: "#555", fontSize: 11},
          data: QUADRANTS.map((q) => [{name: narrow ? q.short : q.name, xAxis: q.x[0], yAxis: q.y[0], itemStyle: {color: q.color}},
                                      {xAxis: q.x[1], yAxis: q.y[1]}])}}],
    }, true);
  }

  /* One highlight plays at a time, from its start to its end; its button pauses it. */
  let playing = null;
  function stopClip() {
    if (!playing) return;
    clip.pause();
    playing.button.textContent = "▶";
    playing.button.title = t("Play");
    playing.button.classList.remove("playing");
    playing = null;
  }
  function play(example, button) {
    if (playing && playing.button === button) { stopClip(); return; }
    stopClip();
    playing = {button, end: example.end ?? example.start + 8};
    button.textContent = "❚❚";
    button.title = t("Pause");
    button.classList.add("playing");
    const go = () => { clip.currentTime = example.start; clip.play().catch(() => {}); };
    const src = `/recordings/${example.recording_id}/audio`;
    if (clip.getAttribute("src") === src && clip.readyState >= 1) { go(); return; }
    clip.src = src;
    clip.addEventListener("loadedmetadata", go, {once: true});
    clip.load();
  }
  clip.addEventListener("timeupdate", () => { if (playing && clip.currentTime >= playing.end) stopClip(); });
  clip.addEventListener("ended", stopClip);

  // Reviewers get a column to correct or remove library lines.
  if (QA.can("reviewer")) document.querySelector("#highlights thead tr").append(h("th", {}, t("Review (you may correct the recognized text)")));

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
    QA.exportLinks("t-export", `/exports/projects/${encodeURIComponent(project)}/trial`, q);
    document.getElementById("t-summary").textContent =
      t("{rubric} v{version}: {calls} calls, online success rate {rate}", {rubric: d.rubric.id, version: d.rubric.version, calls: d.calls, rate: pct(d.success_rate)});
    guideMap(d.guide_map);
    document.querySelector("#refusals tbody").replaceChildren(...(d.refusal_reasons.length ? d.refusal_reasons.map((r) => h("tr", {},
      h("td", {}, r.name || r.objection_id), h("td", {}, r.raised_in_calls), h("td", {}, pct(r.share_of_calls)),
      h("td", {}, pct(r.handled_rate)), h("td", {}, pct(r.success_rate_after))))
      : [h("tr", {}, h("td", {colspan: 5, class: "muted"}, t("none")))]));
    stopClip();
    document.querySelector("#highlights tbody").replaceChildren(...(d.highlights.length ? d.highlights.map((g) => h("tr", {},
      h("td", {}, g.examples.length ? h("button", {type: "button", class: "play", title: t("Play"),
        dataset: {start: g.examples[0].start, end: g.examples[0].end ?? ""}, onclick: (e) => play(g.examples[0], e.currentTarget)}, "▶") : ""),
      h("td", {class: "text"}, g.text, g.asr_text ? h("div", {class: "muted"}, t("Recognized text: {text}", {text: g.asr_text})) : null),
      h("td", {}, QA.highlightReason(g.reason, d.refusal_reasons)), h("td", {}, g.calls), h("td", {}, pct(g.success_rate)),
      // Reviewers correct the recognizer's wording or take a line out of the library.
      QA.can("reviewer") ? QAVoice.decisionCell(project, g.asr_text || g.text, g.text, {}, load) : null))
      : [h("tr", {}, h("td", {colspan: 5, class: "muted"}, t("No highlight scripts yet")))]));
    QAVoice.render(document.getElementById("voice"), d.customer_voice);
    QAVoice.proposals(document.getElementById("proposals"), project, d, load);
    document.body.dataset.loaded = "1";
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load().catch((err) => QA.toast(err.message, true)); });
  const cmp = document.getElementById("compare");
  cmp.addEventListener("submit", (e) => {
    e.preventDefault();
    QACompare.show(document.getElementById("compare-out"), cmp.elements.rubric.value, cmp.elements.from.value,
      cmp.elements.to.value, form.elements.project.value, form.elements.phase.value);
  });
  Promise.all([QA.projects(), api("/rubrics"), api("/kpis?group_by=project&phase=trial")]).then(([ps, rs, trials]) => {
    rubrics = rs;
    // First the project named in the address, else one with 试呼 calls.
    // First the project named in the address, else the one worked on last if it has 试呼
    // calls, else the one with the most 试呼 calls.
    const withTrials = trials.filter((t) => t.project).sort((a, b) => b.evaluated - a.evaluated).map((t) => t.project);
    const last = QA.preferredProject(ps);
    const wanted = new URLSearchParams(location.search).get("project") ||
      (withTrials.includes(last) || !withTrials.length ? last : withTrials[0]);
    QA.fillSelect(form.elements.project, ps, wanted);
    QACompare.setup(cmp, rs, QA.preferredRubric(rs, wanted));
    return load();
  }).catch((err) => QA.toast(err.message, true));
})();
