"""Cleaning on each bundled report: what must go, what must stay."""
from __future__ import annotations

import pytest

from qa.clean import clean
from tests.conftest import corpus_file


def cleaned(prefix: str):
    return clean(corpus_file(prefix).read_text(encoding="utf-8"))


def text_of(prefix: str) -> str:
    return "\n\n".join(b.text for b in cleaned(prefix).blocks)


def test_focused_visit_letter_rejoins_lines_and_drops_header_and_page_numbers():
    text = text_of("2021-08")
    blocks = cleaned("2021-08").blocks
    # hard-wrapped lines become one paragraph
    assert ("Her Majesty’s Chief Inspector of Education, Children’s Services and Skills is leading Ofsted’s work "
            "into how England’s social care system") in text
    # the page number '3' between 'foster care,' and 'although' is gone and the sentence re-joined
    assert "long-term foster care, although consultation on how to undertake" in text
    # hyphenated words split at a line end stay whole
    assert "virtual cook-alongs" in text and "home-working arrangements" in text
    # the letter header (date, addressee, address) and the salutation are gone
    for gone in ("Mr Chris Munday", "2 Bristol Avenue", "NW9 4EW", "Dear Chris", "Yours sincerely"):
        assert gone not in text
    # the '◼' bullets become list items under their heading
    lists = [b for b in blocks if b.kind == "list"]
    assert lists and lists[0].text.split("\n") == [
        "Case recording, including the recording of supervision, visits and direct work with children, and the "
        "rationale for decision-making on placements.",
        "The completion and quality of ‘All about me’ plans."]
    assert "◼" not in text
    # headings are recognised, and the signatory is kept
    assert [b.text for b in blocks if b.kind == "heading"][1:3] == ["Headline findings",
                                                                   "What needs to improve in this area of social work practice"]
    assert blocks[-1].kind == "signature" and blocks[-1].text == "Tara Geere, Her Majesty’s Inspector"


def test_inspection_report_keeps_numbered_paragraphs_and_drops_ofsted_footer():
    blocks = cleaned("2024-06").blocks
    text = text_of("2024-06")
    numbered = [b.number for b in blocks if b.number]
    assert numbered == list(range(1, 65))
    # a paragraph broken across a page ('in the' / 'future.') is joined again
    para6 = next(b for b in blocks if b.number == 6)
    assert "helpful to them in the future. Children identified for follow-up" in para6.text
    # the closing Ofsted blurb, licence, address and copyright are gone
    for gone in ("The Office for Standards in Education", "Open Government Licence", "Piccadilly Gate",
                 "© Crown copyright", "enquiries@ofsted.gov.uk"):
        assert gone not in text
    assert "'coming home'" in text  # the last real paragraph stays
    # the '-' bullets of 'What needs to improve?' are list items
    improve = next(b for b in blocks if b.kind == "list")
    assert improve.text.split("\n")[0] == "Return home interviews informing safety plans for children who go missing."
    # the judgement table becomes one table block, tabs turned into 'label: grade'
    table = next(b for b in blocks if b.kind == "table")
    assert "The experiences and progress of care leavers: Good" in table.text.split("\n")


def test_monitoring_visit_letter():
    blocks = cleaned("2017-11").blocks
    text = text_of("2017-11")
    assert "Dear Mr Munday" not in text
    assert text.startswith("Monitoring visit to Barnet children’s services")
    assert ("The visit was the first monitoring visit since the local authority was judged inadequate for overall "
            "effectiveness in July 2017.") in text
    # a page break inside a sentence ('providing more' / 'continuity') is joined
    assert "effective in providing more continuity and consistency" in text
    assert [b.text for b in blocks if b.kind == "heading"][1:] == [
        "Areas covered by the visit", "Overview", "Findings and evaluation of progress"]
    assert blocks[-1].text == "Louise Warren, Her Majesty’s Inspector"


def test_letter_to_children_rebuilds_the_broken_judgement_table():
    blocks = cleaned("2019-07").blocks
    table = next(b for b in blocks if b.kind == "table")
    assert table.text.split("\n") == [
        "The impact of leaders on social work practice with children and families: Good",
        "The experiences and progress of children who need help and protection: Good",
        "The experiences and progress of children in care and care leavers: Good",
        "Overall effectiveness: Good",
    ]
    text = text_of("2019-07")
    assert "To the children and young people" not in text and "1 July 2019" not in text
    assert "With best wishes" not in text
    assert blocks[-1].text == "Andy Whippey, Lead Inspector"


def test_news_page_keeps_only_the_article():
    result = cleaned("2017-07")
    text = text_of("2017-07")
    assert result.web_page
    assert result.blocks[0].text == "Barnet pledges to improve children’s services following Ofsted inspection"
    # navigation and banner before the article
    for gone in ("Support our #Respect4SocialWork campaign", "Make an Enquiry", "Contact Us"):
        assert gone not in text
    # unrelated stories and the site footer after it
    for gone in ("BASW raises concerns", "PAMS assessments", "Soaring cases in family courts", "Read Full Story",
                 "Mackman", "Knowledge & Resources", "closechevron"):
        assert gone not in text
    # the article itself, including its last paragraph and its bullet list
    assert "Safeguarding and protecting vulnerable children will always be our number one priority." in text
    found = next(b for b in result.blocks if b.text.startswith("The inspectorate also found:"))
    assert found.kind == "list" and "Poor-quality case recording" in found.text.split("\n")


@pytest.mark.parametrize("raw, expected", [
    ("First line of a wrapped\nparagraph goes on here.\n\n7\n\nNext paragraph starts.",
     ["First line of a wrapped paragraph goes on here.", "Next paragraph starts."]),
    ("• one\n• two\n\nAfter.", ["one\ntwo", "After."]),
    ("Word split by a hyphen: well-\nknown fact continues.", ["Word split by a hyphen: well-known fact continues."]),
])
def test_small_inputs(raw, expected):
    assert [b.text for b in clean(raw).blocks] == expected
