"""Metadata without the manifest, judgement tables in both layouts, bad files, passage offsets."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from qa.chunk import split_document
from qa.ingest import IngestError, build_document, load_corpus, load_paths, corpus_files


def test_metadata_extracted_from_text_without_manifest(copy_corpus):
    result = load_corpus(copy_corpus)
    assert not result.errors
    docs = {d.id: d for d in result.documents}
    report = docs["2024-06-barnet-ilacs-inspection-report"]
    assert (report.kind, report.authority) == ("inspection", "Barnet")
    assert (report.period_start, report.period_end) == ("2024-06-10", "2024-06-14")
    assert report.title == "Inspection of Barnet local authority children's services"

    focused = docs["2021-08-barnet-focused-visit-children-in-care"]
    assert (focused.kind, focused.date, focused.period_start, focused.period_end) == (
        "focused visit", "2021-08-02", "2021-06-23", "2021-06-24")
    assert focused.title.startswith("Focused visit to the London Borough of Barnet")

    monitoring = docs["2017-11-barnet-monitoring-visit-letter"]
    assert (monitoring.kind, monitoring.period_start, monitoring.period_end) == (
        "monitoring visit", "2017-11-14", "2017-11-15")

    letter = docs["2019-07-barnet-letter-to-children-inspection"]
    assert (letter.kind, letter.date, letter.period_start, letter.period_end) == (
        "letter", "2019-07-01", "2019-05-01", "2019-05-31")

    news = docs["2017-07-barnet-inadequate-news-article"]
    assert news.kind == "news" and news.authority == "Barnet"
    assert news.title == "Barnet pledges to improve children’s services following Ofsted inspection"


def test_manifest_overrides_what_the_text_says():
    docs = {d.id: d for d in load_corpus(Path(__file__).parent.parent / "corpus").documents}
    assert docs["2017-07-barnet-inadequate-news-article"].period_start == "2017-07-01"
    assert docs["2019-07-barnet-letter-to-children-inspection"].title.startswith("Letter to children")


def test_judgement_tables_in_both_layouts(documents):
    def grades(doc_id):
        return {(j.area, j.grade) for j in documents[doc_id].judgements if j.source == "table"}
    assert grades("2024-06-barnet-ilacs-inspection-report") == {
        ("impact of leaders", "Good"), ("help and protection", "Good"), ("children in care", "Outstanding"),
        ("care leavers", "Good"), ("overall effectiveness", "Good")}
    assert grades("2019-07-barnet-letter-to-children-inspection") == {
        ("impact of leaders", "Good"), ("help and protection", "Good"),
        ("children in care and care leavers", "Good"), ("overall effectiveness", "Good")}
    for doc in documents.values():
        for j in doc.judgements:  # every judgement points at its grade word in the text
            assert doc.text[j.start:j.end].lower() == j.grade.lower()[:j.end - j.start].lower()


def test_graded_headings_and_visits_grade_nothing(documents):
    report = documents["2024-06-barnet-ilacs-inspection-report"]
    headings = {(j.area, j.grade) for j in report.judgements if j.source == "heading"}
    assert ("children in care", "Outstanding") in headings and ("care leavers", "Good") in headings
    assert documents["2021-08-barnet-focused-visit-children-in-care"].judgements == ()
    # the monitoring visit only reports the earlier inspection's grade, with that inspection's year
    reported = documents["2017-11-barnet-monitoring-visit-letter"].judgements
    assert [(j.grade, j.year, j.source) for j in reported] == [("Inadequate", 2017, "text")]


def test_passage_offsets_paragraph_numbers_and_sections(documents):
    for document in documents.values():
        passages = split_document(document)
        assert passages
        for passage in passages:
            assert document.text[passage.start:passage.end] == passage.text
            for a, b in passage.sentences:
                assert passage.text[a:b].strip() == passage.text[a:b] and b > a
        assert len({p.id for p in passages}) == len(passages)
    report = split_document(documents["2024-06-barnet-ilacs-inspection-report"])
    para43 = next(p for p in report if p.paragraph == 43)
    assert para43.section == "The experiences and progress of care leavers: good"
    assert para43.text.startswith("Most care leavers in Barnet get the support they need")


def test_overlong_paragraphs_are_split_with_offsets(documents):
    from qa.chunk import split_document as split

    report = documents["2024-06-barnet-ilacs-inspection-report"]
    pieces = [p for p in split(report, max_chars=300) if p.paragraph == 37]
    assert len(pieces) > 1 and all(len(p.text) <= 300 for p in pieces)
    assert all(report.text[p.start:p.end] == p.text for p in pieces)


def test_bad_files_are_reported_and_skipped(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Inspection of Testshire local authority children's services\n\nChildren are well supported by "
                    "their social workers, who visit them regularly.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 100)
    (tmp_path / "copy.txt").write_bytes(good.read_bytes())
    (tmp_path / "odd.docx").write_bytes(b"PK")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Inspection of Barnet\n\nChildren’s services were judged good by the inspectors’ team.".encode("cp1252"))
    result = load_paths(corpus_files(tmp_path))
    reasons = {p.name: r for p, r in result.errors}
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["binary.txt"]
    assert "duplicate" in reasons["good.txt"] or "duplicate" in reasons["copy.txt"]
    assert "unsupported" in reasons["odd.docx"]
    decoded = next(d for d in result.documents if d.id == "latin")
    assert "Children’s services were judged good" in decoded.text


def test_text_with_nothing_left_after_cleaning_is_refused():
    with pytest.raises(IngestError):
        build_document("Contact Us\nMenu\nHome\n", "x", None, "x.txt", "f")


prose = st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                         max_size=80), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(lines=prose,
       gaps=st.lists(st.sampled_from(["\n", "\n\n", "\n \n", "\n\n3\n\n", "\n• ", "\n- "]), min_size=12, max_size=12))
def test_offsets_hold_for_any_text(lines, gaps):
    raw = "".join(line + gap for line, gap in zip(lines, gaps))
    try:
        document = build_document(raw, "doc", None, "doc.txt", "f")
    except IngestError:
        return
    for paragraph in document.paragraphs:
        assert 0 <= paragraph.start <= paragraph.end <= len(document.text)
    for passage in split_document(document, max_chars=200):
        assert document.text[passage.start:passage.end] == passage.text
        assert passage.text.strip()
