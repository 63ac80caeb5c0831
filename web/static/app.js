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
    answerBox.append(withAbbreviations(el("p", "text"), reply.answer.text));
    const sentence = reply.answer.sentence;
    if (sentence && reply.answer.granularity === "span" && sentence.text !== reply.answer.text) {
      // the sentence the answer was read from, the answer marked inside it
      const from = el("p", "in-sentence");
      const a = reply.answer.start - sentence.start, b = reply.answer.end - sentence.start;
      withAbbreviations(from, `From: ${sentence.text.slice(0, a)}`);
      from.append(withAbbreviations(el("mark"), sentence.text.slice(a, b)));
      withAbbreviations(from, sentence.text.slice(b));
      answerBox.append(from);
    }
    const pct = Math.round(reply.answer.confidence * 100);
    answerBox.append(el("p", "confidence", `Confidence: ${confidenceWords(reply.answer.confidence)} (${pct}%)`));
    if (reply.answer.history && reply.answer.history.length > 1) {
      const list = el("ul", "history");
      for (const step of reply.answer.history) {
        const item = el("li", "", `${step.year}: ${step.grade}`);
        list.append(item);
      }
      answerBox.append(el("p", "confidence", "Across the reports:"), list);
    }
  } else {
    answerBox.className = "answer not-found";
    answerBox.append(el("p", "text", "Not found in the reports"));
    let note = "No passage answers this confidently. The closest passages are below.";
    if (reply.filters_relaxed) {
      const names = {year: "year", date_from: "period", date_to: "period", kind: "kind of report"};
      const asked = `the ${[...new Set(reply.filters_relaxed.map((key) => names[key] || key))].join(" and ")} asked about`;
      note = `No report covers ${asked}. The closest passages from other reports are below.`;
    }
    answerBox.append(el("p", "confidence", note));
  }
  if (reply.searched_for && reply.searched_for.length) {
    const said = reply.searched_for.map((b) => `${b.terms.map((t) => `“${t}”`).join(" or ")} for “${b.asked}”`);
    answerBox.append(el("p", "searched", `The reports' own words were searched too: ${said.join("; ")}.`));
  }
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
    passagesBox.append(card);
  }
}

async function ask(question) {
  const filters = {};
  const year = document.getElementById("year").value;
  const kind = document.getElementById("kind").value;
  if (year) filters.year = parseInt(year, 10);
  if (kind) filters.kind = kind;
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
    renderAnswer(reply);
    renderPassages(reply);
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
