/* 客户问题与拒绝原因、流失环节 (a report's customer_voice), and the highlight proposals with a
 * reviewer's 采纳/不采纳 buttons: shared by the trial, in-flight and wrap-up pages. */
"use strict";
const QAVoice = (() => {
  const {t, api, h, pct, can} = QA;
  const none = (cols, text) => [h("tr", {}, h("td", {colspan: cols, class: "muted"}, text))];
  // the call by its agent and time, and where in it the line was said
  const callLink = (x) => {
    const link = QA.callLink(x.call, x.recording_id, null, t(" at {start} s", {start: x.start.toFixed(1)}));
    link.title = x.text;
    return link;
  };

  function groupRows(groups, empty) {
    if (!groups.length) return none(5, empty);
    return groups.map((g) => h("tr", {dataset: {kind: g.kind}},
      h("td", {class: "text", title: g.variants.join(" / ")}, g.label,
        g.objection_name ? h("span", {class: "muted"}, t(" (objection: {name})", {name: g.objection_name})) : null),
      h("td", {}, t("{calls} calls ({times} times)", {calls: g.calls, times: g.utterances})), h("td", {}, pct(g.share_of_calls)),
      h("td", {}, g.after_section_name || t("before any section")),
      h("td", {}, g.examples.map((x) => [callLink(x), " "]))));
  }

  /* Fills an element with three tables: questions, refusals, drop-off. */
  function render(el, voice) {
    if (!voice) { el.replaceChildren(h("p", {class: "muted"}, t("No customer lines yet"))); return; }
    const head = (...names) => h("thead", {}, h("tr", {}, names.map((n) => h("th", {}, n))));
    el.replaceChildren(
      h("p", {class: "muted"}, t("Each customer question and each refusal (also those the script rules do not have) is grouped by meaning and named by its most typical line; acknowledgements such as \"mm, and then, I see\" do not count.")),
      h("h3", {}, t("Customer questions and needs")),
      h("table", {class: "grid voice-questions"}, head(t("What customers say (typical)"), t("Calls"), t("Share"), t("After section"), t("Example calls")),
        h("tbody", {}, groupRows(voice.questions, t("No customer questions")))),
      h("h3", {}, t("Customer refusal reasons (including those outside the script)")),
      h("table", {class: "grid voice-refusals"}, head(t("What customers say (typical)"), t("Calls"), t("Share"), t("After section"), t("Example calls")),
        h("tbody", {}, groupRows(voice.refusals, t("No customer refusals")))),
      h("h3", {}, t("Drop-off")),
      h("p", {class: "muted"}, t("Calls that ended in a refusal, counted at the last script section said before the customer's last refusal.")),
      h("table", {class: "grid voice-dropoff"}, head(t("Script section"), t("Reached in calls"), t("Ended in refusal after it"), t("Share")),
        h("tbody", {}, voice.drop_off.length ? voice.drop_off.map((d) => h("tr", {dataset: {section: d.section_id || ""}},
          h("td", {}, d.name || t("before any section")), h("td", {}, d.reached), h("td", {}, d.refused_after), h("td", {}, pct(d.refused_share))))
          : none(4, t("The rubric has no script sections")))));
  }

  const STATUS = {proposed: t("to review"), accepted: t("adopted"), rejected: t("not adopted")};

  /* A reviewer's cell: the wording to keep (the recognizer's unless corrected here), 采纳 and
   * 不采纳; `reload` runs after a decision. */
  function decisionCell(project, asrText, text, extra, reload) {
    // a box as tall as the wording it holds (it wraps, so none of it is cut); one line of
    // text, as the input it replaces: Enter adds no line break
    const wording = h("textarea", {class: "wording", rows: 1, "aria-label": t("Wording to adopt (you may correct recognition errors)")});
    wording.value = text;
    const fit = () => {
      if (CSS.supports("field-sizing", "content")) return;
      wording.style.height = "auto";
      wording.style.height = wording.scrollHeight + 2 + "px";
    };
    wording.addEventListener("input", fit);
    wording.addEventListener("keydown", (e) => { if (e.key === "Enter") e.preventDefault(); });
    requestAnimationFrame(fit);
    const decide = async (decision) => {
      await api(`/projects/${encodeURIComponent(project)}/highlight-proposals`, {method: "POST",
        body: {asr_text: asrText, decision, text: decision === "accepted" ? wording.value : null, ...extra}});
      QA.toast(decision === "accepted" ? t("adopted") : t("Marked as not adopted"));
      await reload();
    };
    const click = (decision) => () => decide(decision).catch((e) => QA.toast(e.message, true));
    return h("td", {}, wording, " ",
      h("button", {type: "button", class: "accept", onclick: click("accepted")}, t("Adopt")), " ",
      h("button", {type: "button", class: "reject", onclick: click("rejected")}, t("Do not adopt")));
  }

  /* The proposals of a trial report; reviewers accept (optionally correcting the wording) or
   * reject each; `reload` runs after a decision. */
  function proposals(el, project, report, reload) {
    const list = report.highlight_proposals || [];
    const rows = list.length ? list.map((p) => {
      const cells = [
        h("td", {class: "text"}, p.text, p.text !== p.asr_text ? h("div", {class: "muted"}, t("Recognized text: {text}", {text: p.asr_text})) : null),
        h("td", {}, t("{accepted}/{said} ({rate})", {accepted: p.accepted_after, said: p.said, rate: pct(p.acceptance_rate)})),
        h("td", {}, "×" + p.lift.toFixed(2)),
        h("td", {}, p.examples.map((x) => [callLink(x), " "])),
        h("td", {class: "status"}, STATUS[p.status] || p.status),
      ];
      if (can("reviewer")) cells.push(decisionCell(project, p.asr_text, p.text, {lift: p.lift, calls: p.calls}, reload));
      return h("tr", {dataset: {key: p.key, status: p.status}}, cells);
    }) : none(6, t("No candidates yet"));
    el.replaceChildren(
      h("p", {class: "muted"}, t("Agent lines not in the script rules after which customers agreed more often than the project average ({average}); the multiple is the lift; once a reviewer adopts one it joins the highlight script library.", {average: pct(report.acceptance_after_lines)})),
      h("table", {class: "grid proposals"},
        h("thead", {}, h("tr", {}, [t("Agent line"), t("Agreed after"), t("Lift"), t("Example calls"), t("Status"), can("reviewer") ? t("Review") : null]
          .filter((x) => x).map((n) => h("th", {}, n)))),
        h("tbody", {}, rows)));
  }

  return {render, proposals, decisionCell};
})();
