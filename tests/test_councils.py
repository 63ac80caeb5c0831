"""Many councils in one corpus: the Barnet reports plus ten reports of seven fictional councils
(tests/fixtures/councils, with key.json saying what each report holds), added without a manifest."""
from __future__ import annotations

import re

import pytest
import requests

from qa.types import GRADES, Hit
from tests.conftest import start_server, stop_server

RANK = {grade: i for i, grade in enumerate(GRADES)}
# what the bundled 2024 Barnet report's judgement table says (Barnet's latest inspection in the corpus)
BARNET_2024 = {"overall effectiveness": "Good", "care leavers": "Good", "children in care": "Outstanding",
               "help and protection": "Good", "impact of leaders": "Good"}


def key_area(label: str) -> str:
    label = label.lower()
    if "overall" in label:
        return "overall effectiveness"
    if "leaders" in label and "care leavers" not in label:
        return "impact of leaders"
    if "children in care and care leavers" in label:
        return "children in care and care leavers"
    if "care leavers" in label:
        return "care leavers"
    if "in care" in label:
        return "children in care"
    return "help and protection"


def inspections(key: dict) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Each council's inspections, oldest first: (last day, {area: grade}), Barnet's 2024 one included."""
    found: dict[str, list] = {"Barnet": [("2024-06-14", BARNET_2024)]}
    for document in key["documents"]:
        if document["judgements"]:
            grades = {key_area(label): grade for label, grade in document["judgements"].items()}
            found.setdefault(document["authority"], []).append((document["period_end"], grades))
    return {name: sorted(items) for name, items in found.items()}


def grade_of(grades: dict[str, str], area: str) -> str | None:
    return grades.get(area) or grades.get("children in care and care leavers") if area in (
        "care leavers", "children in care") else grades.get(area)


# ---------------------------------------------------------------- authorities as data

def test_each_report_gets_its_council_kind_dates_and_grades_from_its_own_text(councils, councils_key):
    index = councils.index
    for entry in councils_key["documents"]:
        document = index.documents[entry["file"].removesuffix(".txt")]
        assert document.authority == entry["authority"], entry["file"]
        assert document.kind == entry["kind"], entry["file"]
        assert (document.period_start, document.period_end) == (entry["period_start"], entry["period_end"])
        tabled = {(j.label, j.grade) for j in document.judgements if j.source == "table"}
        assert tabled == set(entry["judgements"].items()), entry["file"]


def test_every_form_of_a_councils_name_resolves_to_one_authority(councils, councils_key):
    registry = councils.index.registry()
    assert set(registry.aliases) == {c["canonical"] for c in councils_key["councils"]} | {"Barnet"}
    for council in councils_key["councils"]:
        for form in council["forms"]:
            assert registry.resolve(form) == council["canonical"], form
            assert registry.resolve(form.lower()) == council["canonical"], form
        official = max(council["forms"], key=len)
        assert official in registry.aliases[council["canonical"]]
        assert set(registry.documents[council["canonical"]]) == {f.removesuffix(".txt") for f in council["files"]}
    assert registry.resolve("London Borough of Barnet") == "Barnet"
    assert registry.resolve("Leeds City Council") is None


# ---------------------------------------------------------------- the council a question names

TEMPLATES = (
    "What are social workers' caseloads like in {name}?",
    "How were care leavers rated in {name}?",
    "What did inspectors say about return home interviews in {name}?",
    "Who leads children's services at {name}?",
    "What needs to improve in {name}?",
    "How do {name}'s personal advisers support care leavers?",
    "What happens at the front door for children in {name}?",
)


def forms_of(council: dict) -> list[str]:
    plain = council["canonical"]
    official = max(council["forms"], key=len)
    return [plain, official, f"the {official}" if official.startswith(("London", "Royal", "City")) else official,
            plain.lower()]


def test_a_question_naming_a_council_is_answered_only_from_its_reports(councils, councils_key):
    """Every question asked with every council's name swapped in, in each form of the name: the answer (or the
    best guess) and every passage come from that council's reports, and the council is the filter applied."""
    for council in [*councils_key["councils"], {"canonical": "Barnet", "forms": ["London Borough of Barnet", "Barnet"]}]:
        name = council["canonical"]
        for template in TEMPLATES:
            for form in forms_of(council):
                question = template.format(name=form).replace("the the ", "the ")
                reply = councils.ask(question)
                assert reply["filters_applied"].get("authority") == name, question
                assert reply["passages"], question
                assert {p["document"]["authority"] for p in reply["passages"]} == {name}, question
                given = reply["answer"] or reply.get("candidate")
                if given is not None:
                    assert given.get("authority") == name, (question, given)


@pytest.mark.parametrize("question, missing", [
    ("How were care leavers rated in Leeds?", "Leeds"),
    ("What are caseloads like at Camden Council?", "Camden"),
    ("What did inspectors find in the London Borough of Northfield?", "Northfield"),
    ("How are care leavers supported in Northfield?", "Northfield"),
    ("Is Kent's front door working well?", "Kent"),
])
def test_a_council_the_collection_does_not_hold_gets_no_answer_and_says_so(councils, question, missing):
    reply = councils.ask(question)
    assert reply["abstained"] and reply["answer"] is None and "candidate" not in reply
    assert reply["filters_applied"]["authority"] == missing and reply["filters_relaxed"] == ["authority"]
    assert f"No reports for {missing}" in reply["notice"]
    assert reply["passages"]  # the closest passages from the reports there are, shown as such
    asked_for = councils.ask(question, filters={"authority": missing})  # asked for in the request: nothing else
    assert asked_for["answer"] is None and asked_for["passages"] == [] and "No reports for" in asked_for["notice"]


def test_a_council_asked_for_in_the_request_by_any_name_is_the_filter(councils):
    reply = councils.ask("What grade did the care leavers' service get?", filters={"authority": "london borough of fernleigh"})
    assert reply["filters_applied"]["authority"] == "Fernleigh"
    assert reply["answer"]["authority"] == "Fernleigh" and reply["answer"]["text"] == "Requires improvement to be good"
    assert [step["year"] for step in reply["answer"]["history"]] == [2019, 2024]
    assert all(step["url"].startswith("/documents/report-0") for step in reply["answer"]["history"])


# ---------------------------------------------------------------- no council named, several in scope

@pytest.mark.parametrize("area, question", [("care leavers", "What grade did the care leavers' service get?"),
                                            ("overall effectiveness", "What grade did children's services get?"),
                                            ("children in care", "What were services for children in care rated?")])
def test_a_grade_question_without_a_council_gets_one_row_for_each(councils, councils_key, area, question):
    reply = councils.ask(question)
    answer = reply["answer"]
    assert answer is not None and "authority" not in answer
    latest = {name: grade_of(items[-1][1], area) for name, items in inspections(councils_key).items()}
    rows = {row["authority"]: row for row in answer["rows"]}
    assert {name: row["grade"] for name, row in rows.items()} == latest
    for name, row in rows.items():
        assert f"{name}: {row['grade']}" in answer["text"]
        assert "judgements table" in row["citation"] and row["passage_id"].startswith(f"p-{row['document_id']}-")


def test_a_grade_question_for_a_year_gets_rows_only_for_councils_inspected_then(councils, councils_key):
    reply = councils.ask("What grade did care leavers' services receive in 2024?")
    expected = {name: grade_of(grades, "care leavers") for name, items in inspections(councils_key).items()
                for day, grades in items if day.startswith("2024")}
    assert {row["authority"]: row["grade"] for row in reply["answer"]["rows"]} == expected


# ---------------------------------------------------------------- questions across reports

def overall(inspection: tuple[str, dict[str, str]]) -> int:
    """An inspection's overall grade as a rank (0 is outstanding)."""
    return RANK[inspection[1]["overall effectiveness"]]


def across_truth(key: dict, area: str, fits, year: str | None = None) -> set[str]:
    found = set()
    for name, items in inspections(key).items():
        if year:
            items = [item for item in items if item[0].startswith(year)]
        if items and fits(items):
            found.add(name)
    return found


@pytest.mark.parametrize("question, area, fits, year", [
    ("Which councils were judged inadequate overall?", "overall effectiveness",
     lambda items: grade_of(items[-1][1], "overall effectiveness") == "Inadequate", None),
    ("Which authorities are outstanding for children in care?", "children in care",
     lambda items: grade_of(items[-1][1], "children in care") == "Outstanding", None),
    ("Which local authorities are rated good or better for care leavers?", "care leavers",
     lambda items: grade_of(items[-1][1], "care leavers") in ("Good", "Outstanding"), None),
    ("Which councils have improved since their previous inspection?", "overall effectiveness",
     lambda items: len(items) > 1 and overall(items[-1]) < overall(items[-2]), None),
    ("Which councils got worse at their latest inspection?", "overall effectiveness",
     lambda items: len(items) > 1 and overall(items[-1]) > overall(items[-2]), None),
    ("Which councils were judged good in 2024?", "overall effectiveness",
     lambda items: items[-1][1]["overall effectiveness"] == "Good", "2024"),
])
def test_questions_across_reports_get_the_fitting_councils_from_the_judgements(councils, councils_key, question, area,
                                                                               fits, year):
    expected = across_truth(councils_key, area, fits, year)
    assert expected, "the fixtures should make every question have an answer"
    reply = councils.ask(question)
    answer = reply["answer"]
    assert answer is not None, reply.get("notice")
    assert {row["authority"] for row in answer["rows"]} == expected
    for name in expected:
        assert name in answer["text"]
    for row in answer["rows"]:
        assert row["citation"].endswith("judgements table") and row["url"].startswith("/documents/")


def test_how_many_councils_counts_them(councils, councils_key):
    expected = across_truth(councils_key, "overall effectiveness",
                            lambda items: items[-1][1]["overall effectiveness"] == "Good", "2024")
    answer = councils.ask("How many councils were rated good in 2024?")["answer"]
    assert answer["text"].startswith(f"{len(expected)}:") and len(answer["rows"]) == len(expected)


def test_a_question_across_reports_that_nothing_fits_abstains_and_says_why(councils):
    reply = councils.ask("Which councils were judged inadequate in 2025?")
    assert reply["answer"] is None and reply["abstained"]
    assert reply["notice"].startswith("No council in these reports for 2025 was judged inadequate")


# ---------------------------------------------------------------- citations a reader can check

def test_no_citation_uses_a_number_the_report_gives_another_paragraph(councils):
    """For every passage of every bundled and fixture report: 'para N' only for the paragraph the report numbers
    N, or, in a report that numbers none, for the N-th paragraph; anything else is named by where it stands."""
    index = councils.index
    checked = 0
    for document_id in index.documents:
        document = index.document(document_id)
        numbers = {p.number for p in document.paragraphs if p.number is not None}
        by_position = {p.position: p for p in document.paragraphs if p.kind != "heading"}
        for row in index.document_rows[document_id].tolist():
            passage = index.passages[row]
            citation = Hit(passage, document, 0, 0.0).citation
            paragraph = by_position[passage.position]
            cited = re.search(r", para (\d+)$", citation)
            if cited:
                n = int(cited.group(1))
                assert n == paragraph.number or (not numbers and n == paragraph.position), citation
            elif paragraph.kind == "signature":
                assert citation.endswith(", signature"), citation
            else:
                assert numbers and paragraph.number is None, citation
                if paragraph.kind == "table":
                    assert citation.endswith("judgements table")
            checked += 1
    assert checked == len(index.passages)


def test_a_report_without_a_date_of_its_own_is_cited_by_its_period(councils):
    reply = councils.ask("What did the news article say Barnet pledged?")
    news = [p for p in reply["passages"] if p["document"]["kind"] == "news"]
    assert news and all(", July 2017, " in p["citation"] for p in news)
    assert news[0]["document"]["date"] is None
    assert (news[0]["document"]["period_start"], news[0]["document"]["period_end"]) == ("2017-07-01", "2017-07-31")


# ---------------------------------------------------------------- over HTTP

@pytest.fixture(scope="module")
def councils_server(councils_index):
    process, base = start_server(councils_index)
    yield base
    stop_server(process)


def test_the_api_lists_authorities_and_filters_by_any_of_their_names(councils_server, councils_key):
    listed = requests.get(f"{councils_server}/api/authorities", timeout=30).json()["authorities"]
    by_name = {a["name"]: a for a in listed}
    assert set(by_name) == {c["canonical"] for c in councils_key["councils"]} | {"Barnet"}
    assert "Royal Borough of Kingsmere" in by_name["Kingsmere"]["aliases"]
    assert [d["id"] for d in by_name["Fernleigh"]["documents"]] == ["report-08", "report-04"]  # newest first
    documents = requests.get(f"{councils_server}/api/documents", timeout=30).json()["documents"]
    assert {d["authority"] for d in documents} == set(by_name)
    assert all("period_start" in d and "period_end" in d for d in documents)
    reply = requests.post(f"{councils_server}/api/ask", timeout=60, json={
        "question": "What are caseloads like?", "filters": {"authority": "Royal Borough of Kingsmere"}}).json()
    assert reply["filters_applied"] == {"authority": "Kingsmere"}
    assert {p["document"]["authority"] for p in reply["passages"]} == {"Kingsmere"}
    rows = requests.post(f"{councils_server}/api/ask", timeout=60,
                         json={"question": "Which councils were judged inadequate overall?"}).json()["answer"]["rows"]
    assert set(rows[0]) >= {"authority", "document_id", "date", "area", "grade", "passage_id", "citation"}
    schema = requests.get(f"{councils_server}/api/openapi.json", timeout=30).json()
    assert "/api/authorities" in schema["paths"] and "RowReply" in schema["components"]["schemas"]
    assert "authority" in schema["components"]["schemas"]["Filters"]["properties"]
