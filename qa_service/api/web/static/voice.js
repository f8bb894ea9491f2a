/* 客户问题与拒绝原因、流失环节 (a report's customer_voice), and the highlight proposals with a
 * reviewer's 采纳/不采纳 buttons: shared by the trial, in-flight and wrap-up pages. */
"use strict";
const QAVoice = (() => {
  const {api, h, pct, can} = QA;
  const none = (cols, text) => [h("tr", {}, h("td", {colspan: cols, class: "muted"}, text))];
  const callLink = (x) => h("a", {href: "/calls/recording/" + x.recording_id, title: x.text},
    `#${x.recording_id} ${x.start.toFixed(1)} 秒`);

  function groupRows(groups, empty) {
    if (!groups.length) return none(5, empty);
    return groups.map((g) => h("tr", {dataset: {kind: g.kind}},
      h("td", {class: "text", title: g.variants.join(" / ")}, g.label,
        g.objection_name ? h("span", {class: "muted"}, `（异议：${g.objection_name}）`) : null),
      h("td", {}, `${g.calls} 通（${g.utterances} 次）`), h("td", {}, pct(g.share_of_calls)),
      h("td", {}, g.after_section_name || "开场前"),
      h("td", {}, g.examples.map((x) => [callLink(x), " "]))));
  }

  /* Fills an element with three tables: questions, refusals, drop-off. */
  function render(el, voice) {
    if (!voice) { el.replaceChildren(h("p", {class: "muted"}, "暂无客户原话")); return; }
    const head = (...names) => h("thead", {}, h("tr", {}, names.map((n) => h("th", {}, n))));
    el.replaceChildren(
      h("p", {class: "muted"}, "客户的每个问题和每次拒绝（话术规则里没有的也算）按意思归类，以最典型的一句命名；" +
        "“嗯、然后呢、这样啊”之类的应声不计。"),
      h("h3", {}, "客户问题与需求"),
      h("table", {class: "grid voice-questions"}, head("客户原话（典型）", "通数", "占比", "出现在环节之后", "示例录音"),
        h("tbody", {}, groupRows(voice.questions, "没有客户提问"))),
      h("h3", {}, "客户拒绝原因（含话术外）"),
      h("table", {class: "grid voice-refusals"}, head("客户原话（典型）", "通数", "占比", "出现在环节之后", "示例录音"),
        h("tbody", {}, groupRows(voice.refusals, "没有客户拒绝"))),
      h("h3", {}, "流失环节"),
      h("p", {class: "muted"}, "以拒绝结束的通话，按客户最后一次拒绝之前说到的最后一个话术环节计。"),
      h("table", {class: "grid voice-dropoff"}, head("话术环节", "说到的通数", "其后以拒绝结束", "占比"),
        h("tbody", {}, voice.drop_off.length ? voice.drop_off.map((d) => h("tr", {dataset: {section: d.section_id || ""}},
          h("td", {}, d.name || "开场前"), h("td", {}, d.reached), h("td", {}, d.refused_after), h("td", {}, pct(d.refused_share))))
          : none(4, "规则没有话术环节"))));
  }

  const STATUS = {proposed: "待审", accepted: "已采纳", rejected: "不采纳"};

  /* A reviewer's cell: the wording to keep (the recognizer's unless corrected here), 采纳 and
   * 不采纳; `reload` runs after a decision. */
  function decisionCell(project, asrText, text, extra, reload) {
    const wording = h("input", {type: "text", class: "wording", value: text, "aria-label": "采纳的文字（可改正识别错误）"});
    const decide = async (decision) => {
      await api(`/projects/${encodeURIComponent(project)}/highlight-proposals`, {method: "POST",
        body: {asr_text: asrText, decision, text: decision === "accepted" ? wording.value : null, ...extra}});
      QA.toast(decision === "accepted" ? "已采纳" : "已标记为不采纳");
      await reload();
    };
    const click = (decision) => () => decide(decision).catch((e) => QA.toast(e.message, true));
    return h("td", {}, wording, " ",
      h("button", {type: "button", class: "accept", onclick: click("accepted")}, "采纳"), " ",
      h("button", {type: "button", class: "reject", onclick: click("rejected")}, "不采纳"));
  }

  /* The proposals of a trial report; reviewers accept (optionally correcting the wording) or
   * reject each; `reload` runs after a decision. */
  function proposals(el, project, report, reload) {
    const list = report.highlight_proposals || [];
    const rows = list.length ? list.map((p) => {
      const cells = [
        h("td", {class: "text"}, p.text, p.text !== p.asr_text ? h("div", {class: "muted"}, "识别原文：" + p.asr_text) : null),
        h("td", {}, `${p.accepted_after}/${p.said}（${pct(p.acceptance_rate)}）`),
        h("td", {}, "×" + p.lift.toFixed(2)),
        h("td", {}, p.examples.map((x) => [callLink(x), " "])),
        h("td", {class: "status"}, STATUS[p.status] || p.status),
      ];
      if (can("reviewer")) cells.push(decisionCell(project, p.asr_text, p.text, {lift: p.lift, calls: p.calls}, reload));
      return h("tr", {dataset: {key: p.key, status: p.status}}, cells);
    }) : none(6, "暂无候选");
    el.replaceChildren(
      h("p", {class: "muted"}, "不在话术规则里、其后客户同意办理的比例高于本项目平均（" +
        pct(report.acceptance_after_lines) + "）的坐席说法，倍数为提升度；质检员采纳后进入亮点话术库。"),
      h("table", {class: "grid proposals"},
        h("thead", {}, h("tr", {}, ["坐席说法", "其后同意", "提升度", "示例录音", "状态", can("reviewer") ? "审核" : null]
          .filter((x) => x).map((n) => h("th", {}, n)))),
        h("tbody", {}, rows)));
  }

  return {render, proposals, decisionCell};
})();
