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

  /* Label layout of the guide map. Labels are placed here rather than by ECharts: its side
   * choice knows neither a label's width nor the other labels (and the vendored common build
   * has no labelLayout). Each label is wrapped to a width the chart allows, measured with the
   * font ECharts draws it in, and put at the free place nearest its marker that keeps clear
   * of the other labels, every marker, the quadrants' names and the axes. */
  const GRID = {left: 50, right: 20, top: 36, bottom: 45};
  const FONT = {size: 12, line: 16, family: "sans-serif"};
  const AREA_FONT = 11;
  const measurer = document.createElement("canvas").getContext("2d");
  function textWidth(s, size) {
    measurer.font = `${size}px ${FONT.family}`;
    return measurer.measureText(s).width;
  }

  // Lines no wider than maxWidth: broken between names where they fit, else between characters.
  function wrapNames(names, sep, maxWidth) {
    const lines = [];
    let line = "";
    const push = () => { if (line) lines.push(line); line = ""; };
    names.forEach((name, i) => {
      const token = name + (i < names.length - 1 ? sep : "");
      if (textWidth(line + token, FONT.size) <= maxWidth) { line += token; return; }
      push();
      for (const ch of token) {
        if (line && textWidth(line + ch, FONT.size) > maxWidth) push();
        line += ch;
      }
    });
    push();
    return lines;
  }

  const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  const grown = (r, d) => ({x: r.x - d, y: r.y - d, w: r.w + 2 * d, h: r.h + 2 * d});
  function overlapArea(a, b) {
    const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
    const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
    return w > 0 && h > 0 ? w * h : 0;
  }

  /* items: {px, py, r, w, h} (marker center and radius, label size); returns each label's
   * top-left. Large labels first (they have the fewest places); each takes, among positions
   * inside `bounds`, the one nearest its marker (beside it, then above or below) that touches
   * nothing taken; where none is free, the one overlapping least. */
  function placeLabels(items, bounds, obstacles) {
    const GAP = 4, PAD = 2;
    const taken = obstacles.map((r) => grown(r, PAD));
    const order = items.map((_, i) => i).sort((a, b) => items[b].w * items[b].h - items[a].w * items[a].h);
    const out = [];
    for (const i of order) {
      const {px, py, r, w, h} = items[i];
      const cands = [];
      const add = (x, y) => {
        x = Math.min(Math.max(x, bounds.x), bounds.x + bounds.w - w);
        y = Math.min(Math.max(y, bounds.y), bounds.y + bounds.h - h);
        const dx = Math.max(x - px, 0, px - x - w), dy = Math.max(y - py, 0, py - y - h);
        cands.push({x, y, score: Math.hypot(dx, dy) + 0.05 * Math.abs(y + h / 2 - py) + (x + w / 2 < px ? 0.5 : 0)});
      };
      const d = r + GAP;
      add(px + d, py - h / 2); add(px - d - w, py - h / 2); add(px - w / 2, py - d - h); add(px - w / 2, py + d);
      for (let y = bounds.y; y <= bounds.y + bounds.h - h; y += 3) {
        for (let x = bounds.x; x <= bounds.x + bounds.w - w; x += 4) add(x, y);
      }
      cands.sort((a, b) => a.score - b.score);
      const rect = (c) => ({x: c.x, y: c.y, w, h});
      let best = cands.find((c) => !taken.some((t) => overlaps(rect(c), t)));
      if (!best) {
        const cost = (c) => taken.reduce((sum, t) => sum + overlapArea(rect(c), t), 0) * 10 + c.score;
        best = cands.reduce((a, b) => (cost(b) < cost(a) ? b : a), cands[0] || {x: px + d, y: py - h / 2});
      }
      out[i] = {x: best.x, y: best.y, near: best.score < d + 0.05 * Math.abs(best.y + h / 2 - py) + 1};
      taken.push(grown(rect(best), PAD));
    }
    return out;
  }

  /* Points at the same place are drawn as one marker named by all of them (one would hide the
   * others). A point whose customer reactions cannot be judged has no place on the vertical
   * axis: listed under the map. */
  let shownPoints = null;
  function guideMap(points) {
    shownPoints = points;
    const known = points.filter((p) => p.positive_rate !== null && p.positive_rate !== undefined);
    const unknown = points.filter((p) => !known.includes(p));
    const groups = new Map();
    for (const p of known) {
      const key = p.said_rate.toFixed(3) + "," + p.positive_rate.toFixed(3);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(p);
    }
    const list = document.getElementById("guide-unknown");
    list.textContent = unknown.length
      ? t("Customer responses cannot be judged, not on the map: ") + unknown.map((p) => t("{name} (said in {calls} calls{asked})", {
        name: p.name || p.point_id, calls: p.said_in_calls,
        asked: (p.asked || []).length ? t(", customers then asked: {questions}", {questions: p.asked.join(t("; "))}) : ""})).join(t(", "))
      : "";
    const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
    const [width, height] = [map.getWidth(), map.getHeight()];
    // On a phone the quadrants carry their number only: their full names would run off the map.
    const narrow = width < 520;
    const plot = {x: GRID.left, y: GRID.top, w: width - GRID.left - GRID.right, h: height - GRID.top - GRID.bottom};
    const pixel = (x, y) => [plot.x + x * plot.w, plot.y + (1 - y) * plot.h];
    const sep = t(", ");
    const maxWidth = Math.max(84, Math.min(220, plot.w * 0.42));
    const items = [...groups.values()].map((ps) => {
      const [x, y] = [ps[0].said_rate, ps[0].positive_rate];
      const [px, py] = pixel(x, y);
      const size = 14 + 4 * (ps.length - 1);
      const lines = wrapNames(ps.map((p) => p.name || p.point_id), sep, maxWidth);
      const w = Math.ceil(Math.max(...lines.map((l) => textWidth(l, FONT.size)))) + 1;
      return {ps, x, y, px, py, r: size / 2, size, lines, w, h: lines.length * FONT.line};
    });
    // What labels keep clear of: every marker, the quadrants' names, the vertical axis' name.
    const obstacles = items.map((it) => ({x: it.px - it.r, y: it.py - it.r, w: it.size, h: it.size}));
    // A quadrant's name sits at the top of its area, lower down where markers cover it.
    const markers = [...obstacles];
    const titles = QUADRANTS.map((q) => {
      const [x0, top] = pixel(q.x[0], q.y[1]);
      const x1 = pixel(q.x[1], q.y[0])[0];
      const w = textWidth(narrow ? q.short : q.name, AREA_FONT) + 2;
      const at = (distance) => ({x: (x0 + x1) / 2 - w / 2, y: top + distance - 1, w, h: AREA_FONT + 4});
      const distance = [5, 19, 33, 47].find((d) => !markers.some((m) => overlaps(at(d), m))) ?? 5;
      obstacles.push(at(distance));
      return distance;
    });
    const yName = textWidth(t("Customers like to hear it"), FONT.size) + 4;
    obstacles.push({x: 0, y: 0, w: GRID.left + yName / 2, h: GRID.top - 8});
    // Labels may use the margin above the plot and the one on its right, not the axes' numbers.
    const bounds = {x: plot.x + 1, y: 2, w: width - plot.x - 3, h: plot.y + plot.h - 3};
    const places = placeLabels(items, bounds, obstacles);
    const data = items.map((it, i) => ({
      name: it.ps.map((p) => p.name || p.point_id).join(sep), value: [it.x, it.y], points: it.ps,
      symbolSize: it.size,
      // offset from the marker's top-left corner to the label's
      label: {position: [places[i].x - (it.px - it.r), places[i].y - (it.py - it.r)],
              formatter: () => it.lines.join("\n")}}));
    // A label set away from its marker is tied to it by a thin line.
    const leaders = items.flatMap((it, i) => {
      if (places[i].near) return [];
      const p = places[i];
      const to = [Math.min(Math.max(it.px, p.x), p.x + it.w), Math.min(Math.max(it.py, p.y), p.y + it.h)];
      return [{type: "line", silent: true, z: 1, shape: {x1: it.px, y1: it.py, x2: to[0], y2: to[1]},
               style: {stroke: "#7b8794", lineWidth: 1}}];
    });
    map.setOption({
      animation: false,
      grid: GRID,
      graphic: leaders,
      xAxis: {type: "value", min: 0, max: 1, name: t("We like to say it (share of calls that say it)"), nameLocation: "middle", nameGap: 28,
              axisLabel: {formatter: (v) => v * 100 + "%"}},
      yAxis: {type: "value", min: 0, max: 1, name: t("Customers like to hear it"), axisLabel: {formatter: (v) => v * 100 + "%"}},
      tooltip: {formatter: (p) => p.data.points.map((x) => t("{name}: said in {calls} calls ({said}), customer positive {positive}", {
        name: esc(x.name || x.point_id), calls: x.said_in_calls, said: pct(x.said_rate), positive: pct(x.positive_rate)}) +
        ((x.asked || []).length ? "<br>" + t("Customers then asked: {questions}", {questions: x.asked.map(esc).join(t("; "))}) : "")).join("<br>")},
      // A group's names wrap in a narrow block and labels that would still meet move apart
      // vertically; each quadrant is named in its middle, away from the 0/50/100% lines.
      series: [{type: "scatter", symbolSize: 14, data,
        label: {show: true, align: "left", verticalAlign: "top", fontSize: FONT.size, lineHeight: FONT.line,
                fontFamily: FONT.family, padding: 0},
        emphasis: {scale: false},
        markArea: {silent: true, label: {position: "insideTop", color: "#555", fontSize: AREA_FONT},
          data: QUADRANTS.map((q, i) => [{name: narrow ? q.short : q.name, xAxis: q.x[0], yAxis: q.y[0], itemStyle: {color: q.color},
                                          label: {distance: titles[i]}},
                                         {xAxis: q.x[1], yAxis: q.y[1]}])}}],
    }, true);
  }
  // The layout depends on the chart's size: laid out again when it changes.
  window.addEventListener("resize", () => { if (shownPoints) guideMap(shownPoints); });

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
      t("{rubric}: {calls} calls, online success rate {rate}", {rubric: QA.rubricLabel(rubrics, d.rubric.id, d.rubric.version), calls: d.calls, rate: pct(d.success_rate)});
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
