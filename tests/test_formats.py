"""PDF and HTML reports, made inside the tests from the corpus texts; bad files; a PDF twin answers like its text."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa import ingest
from qa.ingest import IngestError, load_file
from tests.conftest import corpus_file

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def write_pdf(text: str, path: Path) -> Path:
    """A PDF with the text laid out in wrapped lines, as a report PDF would be."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    if DEJAVU.exists():
        pdf.add_font("DejaVu", fname=str(DEJAVU))
        pdf.set_font("DejaVu", size=10)
    else:  # core fonts are Latin-1 only
        text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"').replace("–", "-")
        text = text.encode("latin-1", "replace").decode("latin-1")
        pdf.set_font("Helvetica", size=10)
    for line in text.split("\n"):
        if not line.strip():
            pdf.ln(4)
            continue
        pdf.multi_cell(0, 5, line.replace("\t", "    "), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def normalised(text: str) -> str:
    return " ".join(text.replace(":", " ").split())


def test_pdf_report_cleans_like_its_text(tmp_path):
    source = corpus_file("2024-06")
    text_doc = load_file(source)
    pdf_doc = load_file(write_pdf(source.read_text(encoding="utf-8"), tmp_path / "barnet-2024.pdf"))
    assert pdf_doc.kind == "inspection" and pdf_doc.authority == "Barnet"
    assert (pdf_doc.period_start, pdf_doc.period_end) == ("2024-06-10", "2024-06-14")
    def numbered(d):
        return {p.number: (p.section, normalised(d.text[p.start:p.end])) for p in d.paragraphs if p.number}
    assert numbered(pdf_doc) == numbered(text_doc)
    assert {(j.area, j.grade) for j in pdf_doc.judgements} == {(j.area, j.grade) for j in text_doc.judgements}
    assert "Crown copyright" not in pdf_doc.text


def test_pdf_twin_added_with_qa_add_answers_with_the_same_citations(tmp_path, index_dir, embedder, pipeline):
    from qa.builder import add, remove
    from qa.pipeline import Pipeline

    live = tmp_path / "index"
    shutil.copytree(index_dir, live)
    remove(["2024-06-barnet-ilacs-inspection-report"], live, embedder=embedder)
    pdf = write_pdf(corpus_file("2024-06").read_text(encoding="utf-8"), tmp_path / "barnet-ilacs-2024.pdf")
    assert add([pdf], live, embedder=embedder)["added"] == ["barnet-ilacs-2024"]
    twin = Pipeline(live, embedder)
    for question in ("What grade did care leavers' services receive in 2024?",
                     "Who was Ofsted's lead inspector for its inspection in 2024?",
                     "Can families get help in an emergency outside office hours?",
                     "Which regional agency handles adoptions for Barnet?",
                     "In the 2024 inspection, what did Barnet need to improve?"):
        original, again = pipeline.ask(question), twin.ask(question)
        assert (again["answer"] or {}).get("text") == (original["answer"] or {}).get("text"), question
        assert again["passages"][0]["citation"] == original["passages"][0]["citation"], question


def test_html_page_keeps_the_article_and_drops_navigation(tmp_path):
    article = corpus_file("2019-07").read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in article.split("\n\n") if len(p.strip()) > 60]
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    page = tmp_path / "letter.html"
    page.write_text(f"""<!doctype html><html><head><title>Inspection of children’s services</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/contact">Contact us</a></li></ul></nav>
<header><p>Sign up to our newsletter for the latest updates from the council</p></header>
<main><article><h1>Inspection of children’s services</h1>{body}</article></main>
<footer><p>Cookie settings</p><p>© Some Council 2019. All rights reserved. Privacy policy.</p></footer>
</body></html>""", encoding="utf-8")
    document = load_file(page)
    assert "In May 2019, Ofsted inspectors visited your area." in document.text
    assert "Young people leaving care receive a good service." in document.text
    for gone in ("Contact us", "Sign up to our newsletter", "Cookie settings", "All rights reserved"):
        assert gone not in document.text
    assert (document.period_start, document.period_end) == ("2019-05-01", "2019-05-31")


def test_pdf_without_a_text_layer_is_refused(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50, style="F")  # a scanned page would be an image: no text to extract
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(IngestError, match="no text layer"):
        load_file(path)


def test_broken_pdf_and_oversized_file_are_refused(tmp_path, monkeypatch):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n this is not really a pdf")
    with pytest.raises(IngestError):
        load_file(broken)
    big = tmp_path / "big.txt"
    big.write_text("Inspection of Bigshire.\n\n" + "Children are safe. " * 2000, encoding="utf-8")
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 1000)
    with pytest.raises(IngestError, match="over the 1000 byte limit"):
        load_file(big)


def test_markdown_and_latin1_text(tmp_path):
    md = tmp_path / "note.md"
    md.write_text("# Monitoring visit to Testshire children’s services\n\nInspectors found that planning for "
                  "children has improved since the last visit in March 2023.\n", encoding="utf-8")
    document = load_file(md)
    assert "planning for children has improved" in document.text
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Inspection of Testshire\n\nThe café-style drop-in for care leavers is popular and "
                      "well attended by young people.".encode("latin-1"))
    assert "café-style drop-in" in load_file(latin).text
