"""Index build, reuse, refusal of mismatched indexes, the lock, add/remove and atomic swaps."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.builder import add, build, remove
from qa.index import FORMAT_VERSION, IndexBusy, IndexNotReady, build_lock, current_version, load_index, read_manifest

ROOT = Path(__file__).resolve().parent.parent


def test_manifest_records_model_dimension_fingerprint_and_format(index_dir):
    manifest = read_manifest(index_dir)
    assert manifest["model"] == "all-MiniLM-L6-v2" and manifest["dimension"] == 384
    assert manifest["format_version"] == FORMAT_VERSION and len(manifest["corpus_fingerprint"]) == 64
    assert manifest["documents"] == 5 and manifest["passages"] > 100


def test_unchanged_corpus_is_not_rebuilt(index_dir, embedder):
    before = current_version(index_dir)
    summary = build(ROOT / "corpus", index_dir, embedder=embedder)
    assert summary["up_to_date"] and current_version(index_dir) == before


def test_missing_and_mismatched_indexes_say_what_to_run(tmp_path, index_dir):
    with pytest.raises(IndexNotReady, match="run `qa build`"):
        load_index(tmp_path / "nothing")
    copy = tmp_path / "copy"
    shutil.copytree(index_dir, copy)
    manifest_path = current_version(copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexNotReady, match="run `qa build`"):
        load_index(copy)
    manifest["format_version"] = FORMAT_VERSION
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexNotReady, match="built with"):
        load_index(copy, model="another-model")


def test_loaded_index_reads_passages_and_texts_from_disk_and_keeps_them_whole(index_dir):
    index = load_index(index_dir)
    assert all(d.text == "" and d.paragraphs == () for d in index.documents.values())  # headers only in memory
    assert all(d.judgements for d in index.documents.values() if d.kind == "inspection")  # grades stay at hand
    for row, passage in enumerate(index.passages):  # parsed on demand from passages.jsonl
        whole = index.document(passage.document_id)
        assert whole.text[passage.start:passage.end] == passage.text
        assert row in index.document_rows[passage.document_id]
        assert whole.paragraph_count == index.documents[passage.document_id].paragraph_count > 0
    assert index.passages[-1] == index.passages[len(index.passages) - 1]
    with pytest.raises(IndexError):
        index.passages[len(index.passages)]
    assert "passage_keys" not in index.manifest  # content hashes live in .npy files, not in memory


def test_index_of_an_older_format_is_rebuilt_when_the_service_starts(tmp_path, index_dir, monkeypatch):
    import qa.builder

    copy = tmp_path / "copy"
    shutil.copytree(index_dir, copy)
    manifest_path = current_version(copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = FORMAT_VERSION - 1
    manifest_path.write_text(json.dumps(manifest))
    built = []
    monkeypatch.setattr(qa.builder, "build", lambda corpus, index, **kw: built.append((corpus, index)))
    qa.builder.ensure_index(copy, ROOT / "corpus")
    assert built == [(ROOT / "corpus", copy)]
    built.clear()
    qa.builder.ensure_index(index_dir, ROOT / "corpus")  # the current format is left alone
    assert built == []


def test_second_build_is_refused_while_one_holds_the_lock(tmp_path):
    with build_lock(tmp_path):
        with pytest.raises(IndexBusy, match="another build"):
            with build_lock(tmp_path):
                pass
    with build_lock(tmp_path):  # released afterwards
        pass


def test_add_and_remove_without_a_full_rebuild(tmp_path, index_dir, embedder, pipeline):
    live = tmp_path / "index"
    shutil.copytree(index_dir, live)
    report = tmp_path / "testshire-2025.txt"
    report.write_text(
        "Inspection of Testshire local authority children's services\n\nInspection dates: 3 to 7 March 2025\n\n"
        "Judgement\tGrade\nOverall effectiveness\tRequires improvement to be good\n\n"
        "1. The kestrel outreach team visits families within two days of a referral.\n", encoding="utf-8")
    summary = add([report], live, embedder=embedder)
    assert summary["added"] == ["testshire-2025"]
    assert summary["embedded"] <= 6  # only the new report's passages and sentences are embedded
    from qa.pipeline import Pipeline

    reply = Pipeline(live, embedder).ask("What does the kestrel outreach team do?")
    assert reply["passages"][0]["document"]["id"] == "testshire-2025"
    summary = remove(["testshire-2025"], live, embedder=embedder)
    reply = Pipeline(live, embedder).ask("What does the kestrel outreach team do?")
    assert all(p["document"]["id"] != "testshire-2025" for p in reply["passages"])
    with pytest.raises(ValueError, match="no such document"):
        remove(["nope"], live, embedder=embedder)


def test_cli_build_reports_bad_files_and_indexes_the_rest(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / "2019-07-barnet-letter-to-children-inspection.txt", corpus)
    (corpus / "broken.txt").write_bytes(b"\x00\xff" * 50)
    result = subprocess.run([sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index",
                             str(tmp_path / "index"), "--quiet"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stderr and "broken.txt" in result.stderr
    assert "1 documents" in result.stdout


def test_large_indexes_use_ivf_and_filters_still_apply(monkeypatch):
    import numpy as np

    import qa.writer as writer_module
    from qa.index import Index
    from qa.writer import dense_index_for

    monkeypatch.setattr(writer_module, "EXACT_SEARCH_LIMIT", 100)
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(3000, 16)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    dense = dense_index_for(vectors)
    assert "IVF" in type(dense).__name__
    from qa.types import Passage

    passages = [Passage(f"p{i}", "d", "t", 0, 1, i + 1, None) for i in range(len(vectors))]
    holder = Index(Path("."), {}, {}, passages, vectors, dense, None)
    allowed = np.arange(0, 3000, 7)
    rows, _ = holder.search_dense(vectors[14], 10, allowed)
    assert rows[0] == 14 and set(rows.tolist()) <= set(allowed.tolist())


def test_generic_sentences_have_more_hubness_than_specific_ones(index_dir):
    index = load_index(index_dir)
    hubness = {}
    for row in range(len(index.passages)):
        passage = index.passages[row]
        for (a, b), value in zip(passage.sentences, index.sentence_hubness_of(row)):
            hubness[passage.text[a:b]] = float(value)
    assert len(hubness) > 300 and all(-1.0 <= v <= 1.0 for v in hubness.values())
    generic = hubness["Children in care receive an outstanding level of help and support."]
    specific = hubness["Brothers and sisters live together whenever possible."]
    assert generic > specific + 0.2
    assert generic > np.percentile(list(hubness.values()), 90)


def test_hubness_ignores_a_sentence_itself_and_a_sample_keeps_the_order():
    from scipy.stats import spearmanr

    from qa.writer import sentence_hubness

    rng = np.random.default_rng(3)
    centre = rng.normal(size=32)
    near = centre + rng.normal(scale=0.8, size=(50, 32))  # a cluster: each member has close neighbours
    far = rng.normal(size=(50, 32)) * 3  # scattered: nobody is close
    vectors = np.vstack([near, far, far[:1]]).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = sentence_hubness(vectors, neighbours=5)
    assert exact[:50].min() > exact[50:100].max()
    assert exact[100] < 0.9  # its exact copy at row 50 is not counted as a neighbour
    sampled = sentence_hubness(vectors, neighbours=5, sample=60)
    assert spearmanr(exact, sampled).correlation > 0.8
    assert sentence_hubness(vectors[:1]).tolist() == [0.0]


def test_each_sentence_s_hubness_among_the_answer_vectors_is_stored(index_dir):
    """The reader discounts a sentence that sits close to every question in the answer encoder's space (a
    judgement-table row); the build measures it over the answer vectors as it does over the sentence vectors."""
    from qa.writer import sentence_hubness

    index = load_index(index_dir)
    assert index.answer_vectors is not None and index.answer_hubness is not None
    answers = np.asarray(index.answer_vectors.rows(0, len(index.answer_vectors)), dtype=np.float32)
    assert len(index.answer_hubness) == len(answers) == int(index.sentence_offsets[-1])
    np.testing.assert_allclose(index.answer_hubness, sentence_hubness(answers), atol=1e-5)
    assert np.ptp(index.answer_hubness) > 0.1  # some sentences are hubs there, others are not
    row = 3
    first, last = int(index.sentence_offsets[row]), int(index.sentence_offsets[row + 1])
    assert index.answer_hubness_of(row).tolist() == np.asarray(index.answer_hubness[first:last]).tolist()


def test_the_bm25_postings_tell_which_reports_use_a_word(index_dir):
    index = load_index(index_dir)
    rows_of = {d: index.document_rows[d] for d in index.documents}
    letter = next(d for d in rows_of if "letter-to-children" in d)
    report = next(d for d in rows_of if "ilacs" in d)
    assert index.uses_within("supervis", rows_of[report]) and not index.uses_within("supervis", rows_of[letter])
    assert index.uses_within("children", rows_of[letter])
    assert not index.uses_within("no-such-word", np.arange(len(index.passages)))


def test_which_lists_say_what_needs_to_improve(index_dir):
    from qa.writer import is_improvement_list
    from qa.types import Passage

    def listed(text, section):
        return is_improvement_list(Passage("p", "d", text, 0, len(text), 1, section, kind="list"))

    assert listed("Return home interviews.\nTimeliness of early help.", "What needs to improve?")
    assert listed("Ofsted recommends that the authority:\nEnsures a focus on practice", "Barnet pledges to improve")
    assert listed("The inspectorate also found:\nPoor care planning", "Barnet pledges to improve")
    # an article titled '... pledges to improve ...', a list of what was done
    assert not listed("Systemic weaknesses were found. Leaders gained resources to make improvements:\nA partnership",
                      "Barnet pledges to improve children's services")
    assert not listed("Children benefit from:\nA clinical service", "Main findings")
    index = load_index(index_dir)
    sections = {index.passages[int(row)].section for row in index.improvement_rows}
    assert "What needs to improve?" in sections and len(index.improvement_rows) == 4


def test_bm25_built_from_postings_on_disk_scores_as_bm25s_does(tmp_path):
    """The build's own BM25 writer (streamed, in passes over the vocabulary) against bm25s's index():
    the same score for every passage and every word, however small its buffer."""
    import bm25s

    from qa.writer import LexicalWriter

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(400)]
    zipf = 1 / np.arange(1, len(words) + 1)
    passages = [list(rng.choice(words, size=rng.integers(0, 60), p=zipf / zipf.sum())) for _ in range(700)]
    reference = bm25s.BM25()
    reference.index([p or ["_"] for p in passages], show_progress=False)
    writer = LexicalWriter(tmp_path / "bm25", buffer=500)  # about 40 passes over the vocabulary
    for tokens in passages:
        writer.add(tokens)
    writer.finish()
    written = bm25s.BM25.load(str(tmp_path / "bm25"), mmap=True)
    assert not (tmp_path / "bm25" / "postings.tmp.npy").exists()
    assert set(written.vocab_dict) == set(reference.vocab_dict)
    for word in [w for w in reference.vocab_dict if w]:
        assert np.allclose(written.get_scores([word]), reference.get_scores([word]), atol=1e-6), word
    query = list(rng.choice(words[:50], size=6))
    assert np.allclose(written.get_scores(query), reference.get_scores(query), atol=1e-5)


def test_a_rebuild_reuses_every_vector_and_writes_the_same_index(tmp_path, embedder):
    """Vectors found by content key in the live version are copied, not embedded again, and the files
    written from them equal a build from scratch."""
    from qa.reader.encoder import current_fingerprint
    from qa.writer import write_index

    corpus = Path(__file__).resolve().parent.parent / "corpus"
    from qa.ingest import load_corpus

    documents = load_corpus(corpus).documents
    first = write_index(documents, tmp_path, embedder)
    before = current_version(tmp_path)
    # the sentences as the reader's answer encoder reads them, whenever the reader ships its adapters
    assert (before / "answer_vectors.npy").exists() == (current_fingerprint() is not None)
    answer = ("answer_vectors.npy",) if current_fingerprint() else ()
    saved = {name: np.load(before / name) for name in ("vectors.npy", "sentence_vectors.npy", "token_vectors.npy",
                                                       "token_ids.npy", "passage_keys.npy", "sentence_keys.npy", *answer)}
    second = write_index(documents, tmp_path, embedder)
    after = current_version(tmp_path)
    assert first["embedded"] == first["passages"] and second["embedded"] == 0 and after != before
    for name, array in saved.items():
        assert np.array_equal(np.load(after / name), array), name
