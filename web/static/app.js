// The staff page: asks /api/ask and shows the answer inside its passage, with citations.
// Report text is only ever inserted as text nodes (never innerHTML), so markup in a report shows as text.
"use strict";

const form = document.getElementById("ask-form");
const input = document.getElementById("question");
const button = document.getElementById("ask-button");
const statusLine = document.getElementById("status");
const answerBox = document.getElementById("answer");
const passagesBox = document.getElementById("passages");

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// Abbreviations the reports define ('LADO' -> 'local authority designated officer'), shown as tooltips.
let abbreviations = null; // {pattern, longForms}, once /api/glossary has answered

async function loadGlossary() {
  try {
    const response = await fetch("/api/glossary");
    if (!response.ok) return;
    const terms = (await response.json()).terms || [];
    if (!terms.length) return;
    const longForms = new Map(terms.map((t) => [t.short, t.long]));
    const escaped = [...longForms.keys()].sort((a, b) => b.length - a.length)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    abbreviations = {pattern: new RegExp(`(?<![\\w-])(?:${escaped.join("|")})(?![\\w-])`, "g"), longForms};
  } catch (error) {
    // the page works without tooltips
  }
}

// The text as text nodes, each defined abbreviation wrapped in <abbr title="its long form">.
function withAbbreviations(parent, text) {
  if (!abbreviations) { parent.append(document.createTextNode(text)); return parent; }
  let last = 0;
  for (const match of text.matchAll(abbreviations.pattern)) {
    parent.append(document.createTextNode(text.slice(last, match.index)));
    const abbr = el("abbr", "", match[0]);
    abbr.title = abbreviations.longForms.get(match[0]);
    parent.append(abbr);
    last = match.index + match[0].length;
  }
  parent.append(document.createTextNode(text.slice(last)));
  return parent;
}

function confidenceWords(p) {
  if (p >= 0.9) return "very likely right";
  if (p >= 0.75) return "likely right";
  if (p >= 0.5) return "probably right; check the passage";
  return "uncertain; read the passages";
}

function highlighted(text, start, end) {
  const body = el("p", "body");
  if (start === undefined || start === null) return withAbbreviations(body, text);
  withAbbreviations(body, text.slice(0, start));
  body.append(withAbbreviations(el("mark"), text.slice(start, end)));
  withAbbreviations(body, text.slice(end));
  return body;
}

// a passage with its answering sentence shaded and, inside it, the answer marked
function highlightedSentence(text, answer) {
  const sentence = answer.sentence;
  if (!sentence || answer.granularity !== "span") return highlighted(text, answer.start, answer.end);
  const body = el("p", "body");
  withAbbreviations(body, text.slice(0, sentence.start));
  const shaded = el("span", "sentence");
  withAbbreviations(shaded, text.slice(sentence.start, answer.start));
  shaded.append(withAbbreviations(el("mark"), text.slice(answer.start, answer.end)));
  withAbbreviations(shaded, text.slice(answer.end, sentence.end));
  body.append(shaded);
  withAbbreviations(body, text.slice(sentence.end));
  return body;
}

function renderAnswer(reply) {
  answerBox.replaceChildren();
  answerBox.hidden = false;
  if (reply.answer) {
    answerBox.className = "answer";
    const rowsAnswer = reply.answer.rows && reply.answer.rows.length;
    answerBox.append(withAbbreviations(el("p", rowsAnswer ? "text summary" : "text"), reply.answer.text));
    const sentence = reply.answer.sentence;
    if (sentence && reply.answer.granularity === "span" && sentence.text !== reply.answer.text && !reply.answer.rows) {
      // the sentence the answer was read from, the answer marked inside it
      const from = el("p", "in-sentence");
      const a = reply.answer.start - sentence.start, b = reply.answer.end - sentence.start;
      withAbbreviations(from, `From: ${sentence.text.slice(0, a)}`);
      from.append(withAbbreviations(el("mark"), sentence.text.slice(a, b)));
      withAbbreviations(from, sentence.text.slice(b));
      answerBox.append(from);
    }
    if (reply.answer.authority) {
      answerBox.append(el("p", "authority", `From ${reply.answer.authority}'s report`));
    }
    if (reply.answer.rows && reply.answer.rows.length) answerBox.append(rowsTable(reply.answer.rows));
    const pct = Math.round(reply.answer.confidence * 100);
    answerBox.append(el("p", "confidence", `Confidence: ${confidenceWords(reply.answer.confidence)} (${pct}%)`));
    if (reply.answer.history && reply.answer.history.length > 1) {
      const list = el("ul", "history");
      for (const step of reply.answer.history) {
        const item = el("li", "", `${step.year}: ${step.grade}`);
        list.append(item);
      }
      answerBox.append(el("p", "confidence", "Across the reports:"), timeline(reply.answer.history), list);
    }
  } else {
    answerBox.className = "answer not-found";
    answerBox.append(el("p", "text", "Not found in the reports"));
    let note = "No passage answers this confidently. The closest passages are below.";
    if (reply.notice) note = reply.notice;
    if (reply.filters_relaxed) {
      const names = {year: "year", date_from: "period", date_to: "period", kind: "kind of report", authority: "council"};
      const asked = `the ${[...new Set(reply.filters_relaxed.map((key) => names[key] || key))].join(" and ")} asked about`;
      note = `${reply.notice || `No report covers ${asked}.`} The closest passages from other reports are below.`;
    }
    answerBox.append(el("p", "confidence", note));
  }
  if (reply.searched_for && reply.searched_for.length) {
    const said = reply.searched_for.map((b) => `${b.terms.map((t) => `“${t}”`).join(" or ")} for “${b.asked}”`);
    answerBox.append(el("p", "searched", `The reports' own words were searched too: ${said.join("; ")}.`));
  }
}

// an answer drawn from several reports: one row per authority, each grade linked to its paragraph
function rowsTable(rows) {
  const table = el("table", "rows");
  const head = el("tr");
  for (const title of ["Authority", "Judgement", "Grade", "Inspection", "Source"]) head.append(el("th", "", title));
  table.append(el("thead"));
  table.tHead.append(head);
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    tr.append(el("td", "", row.authority), el("td", "", row.area));
    tr.append(el("td", "grade", row.previous ? `${row.previous} → ${row.grade}` : row.grade));
    tr.append(el("td", "", row.date || ""));
    const cell = el("td");
    const link = el("a", "", row.citation);
    link.href = row.url || `/documents/${row.document_id}`;
    cell.append(link);
    tr.append(cell);
    body.append(tr);
  }
  table.append(body);
  return table;
}

// a grade's history as a small inline SVG timeline: best grade at the top, each point a link to its paragraph
const GRADE_ORDER = ["Outstanding", "Good", "Requires improvement to be good", "Inadequate"];
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeline(history) {
  const width = 520, left = 190, right = 20, top = 14, step = 26;
  const height = top * 2 + step * (GRADE_ORDER.length - 1) + 18;
  const chart = svg("svg", {class: "timeline", viewBox: `0 0 ${width} ${height}`, role: "img",
                            "aria-label": history.map((s) => `${s.year}: ${s.grade}`).join(", ")});
  GRADE_ORDER.forEach((grade, i) => {
    const y = top + i * step;
    chart.append(svg("text", {x: left - 8, y: y + 4, "text-anchor": "end", class: "axis"},
                     grade.replace(" to be good", "")));
    chart.append(svg("line", {x1: left, x2: width - right, y1: y, y2: y, class: "grid"}));
  });
  const years = history.map((s) => s.year);
  const low = Math.min(...years), high = Math.max(...years);
  const x = (year) => high === low ? (left + width - right) / 2 : left + 12 + (year - low) / (high - low) * (width - right - left - 24);
  const y = (grade) => top + Math.max(0, GRADE_ORDER.indexOf(grade)) * step;
  const points = history.map((s) => `${x(s.year)},${y(s.grade)}`).join(" ");
  chart.append(svg("polyline", {points, class: "trend"}));
  for (const s of history) {
    const link = svg("a", {href: s.url || `/documents/${s.document_id}`, class: "point"});
    link.append(svg("circle", {cx: x(s.year), cy: y(s.grade), r: 6}));
    link.append(svg("title", {}, `${s.year}: ${s.grade}`));
    chart.append(link);
    chart.append(svg("text", {x: x(s.year), y: height - 4, "text-anchor": "middle", class: "axis"}, String(s.year)));
  }
  return chart;
}

function renderPassages(reply) {
  passagesBox.replaceChildren();
  for (const passage of reply.passages) {
    const card = el("article", "passage");
    const cite = el("p", "cite");
    const link = el("a", "", passage.citation);
    link.href = passage.url;
    cite.append(link);
    card.append(cite);
    if (passage.section) card.append(el("p", "section", passage.section));
    const isAnswer = reply.answer && reply.answer.passage_id === passage.id;
    card.append(isAnswer ? highlightedSentence(passage.text, reply.answer) : highlighted(passage.text));
    card.passage = passage;
    const answers = el("button", "secondary answers-it", "This answers it");
    answers.type = "button";
    answers.addEventListener("click", () => {
      const status = answerBox.querySelector(".feedback-status");
      const done = (message) => { answers.disabled = true; if (status) status.textContent = message; };
      if (isAnswer) sendFeedback({answer: reply.answer, verdict: "right"}, done);
      else sendFeedback({answer: reply.answer || undefined, verdict: "wrong", passage_id: passage.id, start: 0,
                         end: passage.text.length}, done);
    });
    card.append(answers);
    passagesBox.append(card);
  }
}

// ---------------------------------------------------------------- feedback: right, wrong, and what does answer

let lastReply = null;

async function sendFeedback(body, done) {
  try {
    const response = await fetch("/api/feedback", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({question: lastReply.question, ...body}),
    });
    const reply = await response.json();
    done(response.ok ? "Thank you: recorded." : `Not recorded: ${reply.error ? reply.error.message : response.status}`);
  } catch (error) {
    done("Not recorded: the service could not be reached.");
  }
}

function feedbackBar(reply) {
  const bar = el("div", "feedback");
  const said = el("p", "feedback-status");
  said.setAttribute("role", "status");
  const finish = (message) => {
    stopPicking();
    bar.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    said.textContent = message;
    said.scrollIntoView({block: "nearest"});
  };
  const answer = reply.answer;
  if (answer) {
    bar.append(el("span", "feedback-ask", "Is this answer right?"));
    const right = el("button", "secondary", "Right");
    right.type = "button";
    right.addEventListener("click", () => sendFeedback({answer, verdict: "right"}, finish));
    bar.append(right);
  } else {
    bar.append(el("span", "feedback-ask", "Do the reports answer this?"));
  }
  const wrong = el("button", "secondary", answer ? "Wrong" : "Pick the answer");
  wrong.type = "button";
  wrong.addEventListener("click", () => {
    wrong.disabled = true;
    said.textContent = "Click the sentence below that answers the question, or:";
    const none = el("button", "secondary none", "Not in these reports");
    none.type = "button";
    none.addEventListener("click", () => sendFeedback(
      {answer: answer || undefined, verdict: "not_in_reports"}, finish));
    bar.append(none);
    startPicking((passage, start, end) => sendFeedback(
      {answer: answer || undefined, verdict: "wrong", passage_id: passage.id, start, end}, finish));
  });
  bar.append(wrong, said);
  return bar;
}

let picking = null;

// make each sentence of each passage a button; choosing one sends it as the answer
function startPicking(onPick) {
  picking = onPick;
  passagesBox.classList.add("picking");
  for (const card of passagesBox.querySelectorAll(".passage")) {
    const passage = card.passage;
    const body = el("p", "body");
    let last = 0;
    for (const [start, end] of passage.sentences || [[0, passage.text.length]]) {
      body.append(document.createTextNode(passage.text.slice(last, start)));
      const sentence = el("span", "pick", passage.text.slice(start, end));
      sentence.tabIndex = 0;
      sentence.setAttribute("role", "button");
      sentence.title = "This answers the question";
      const choose = () => { if (picking) picking(passage, start, end); };
      sentence.addEventListener("click", choose);
      sentence.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); choose(); }
      });
      body.append(sentence);
      last = end;
    }
    body.append(document.createTextNode(passage.text.slice(last)));
    card.querySelector(".body").replaceWith(body);
  }
  const first = passagesBox.querySelector(".pick");
  if (first) first.focus();
}

function stopPicking() {
  picking = null;
  passagesBox.classList.remove("picking");
}

async function ask(question) {
  const filters = {};
  const year = document.getElementById("year").value;
  const kind = document.getElementById("kind").value;
  const authority = document.getElementById("authority");
  if (year) filters.year = parseInt(year, 10);
  if (kind) filters.kind = kind;
  if (authority && authority.value) filters.authority = authority.value;
  button.disabled = true;
  statusLine.textContent = "Searching the reports…";
  try {
    const response = await fetch("/api/ask", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({question, top_k: 5, filters}),
    });
    const reply = await response.json();
    if (!response.ok) {
      statusLine.textContent = reply.error ? reply.error.message : `Error ${response.status}`;
      answerBox.hidden = true;
      passagesBox.replaceChildren();
      return;
    }
    statusLine.textContent = `${reply.passages.length} passages in ${Math.round(reply.took_ms)} ms`;
    lastReply = reply;
    stopPicking();
    renderAnswer(reply);
    renderPassages(reply);
    if (reply.passages.length || reply.answer) answerBox.append(feedbackBar(reply));
  } catch (error) {
    statusLine.textContent = "The service could not be reached. Try again.";
  } finally {
    button.disabled = false;
  }
}

const glossaryLoaded = loadGlossary();

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (question) glossaryLoaded.then(() => ask(question));
});
