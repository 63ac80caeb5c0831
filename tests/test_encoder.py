"""The answer encoder: adapters fitted on (question, answering sentence) pairs move questions next to the
sentences that answer them; merged into the bundled model they encode exactly as fitted; the reader reads
the encoder's cosine; a reader model never runs with adapters it was not fitted with."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.reader import encoder as E
from qa.reader import features as F
from qa.reader.encoder_fit import Pair, Scorer, fit_adapters
from qa.reader.model import MODEL_FILE, ReaderModel
from qa.reader.sentences import gather

ROOT = Path(__file__).resolve().parent.parent

# questions that say nothing of their sentence: only training can tie each to the one it was paired with
CODES = ("Where is the blue heron?", "What about the copper kettle?", "Tell me of the silver lantern.",
         "Which is the quiet orchard?", "Find the broken compass.", "Show the paper moon.")
NOTHING = ("Where is the green bicycle?", "What about the glass piano?", "Tell me of the iron bridge.",
           "Which is the hidden garden?", "Find the golden feather.", "Show the wooden clock.")


@pytest.fixture(scope="module")
def sentences(pipeline) -> list[str]:
    """24 sentences of the bundled reports, one from each of 24 passages."""
    passages = [pipeline.index.passages[row] for row in range(0, 96, 4)]
    return [p.text[a:b] for p in passages for a, b in p.sentences[:1]][:24]


@pytest.fixture(scope="module")
def fitted(sentences, tmp_path_factory):
    pairs = [Pair(q, [sentences[k * 4]], [sentences[k * 4 + 1], sentences[k * 4 + 2]]) for k, q in enumerate(CODES)]
    # and questions nothing answers: their cosines are taught to stay under the 'no answer' bar
    pairs += [Pair(q, [], [sentences[k * 4 + 1], sentences[k * 4 + 3]]) for k, q in enumerate(NOTHING)]
    adapters = fit_adapters(pairs * 4, epochs=10)
    path = tmp_path_factory.mktemp("adapters") / E.ADAPTERS_FILE.name
    E.save_adapters(adapters, path)
    return adapters, path


def _first(questions: np.ndarray, sentences: np.ndarray) -> list[int]:
    return [int(np.argmax(sentences @ v)) for v in questions]


def test_fitted_adapters_put_each_question_next_to_its_answering_sentence(fitted, sentences, embedder):
    adapters, _ = fitted
    assert sum(a.size for a in adapters.values()) == 331_776 and all(a.dtype == np.float16 for a in adapters.values())
    wanted = [k * 4 for k in range(len(CODES))]
    scorer = Scorer(adapters)
    tuned = _first(scorer.encode(list(CODES)), scorer.encode(sentences))
    base = _first(embedder.encode(list(CODES)), embedder.encode(sentences))
    assert sum(t == w for t, w in zip(tuned, wanted)) >= 5
    assert sum(b == w for b, w in zip(base, wanted)) <= 2
    # what nothing answers sits further from every sentence than a question does from its answer
    answered = np.sort((scorer.encode(list(CODES)) @ scorer.encode(sentences).T).max(axis=1))
    unanswered = np.sort((scorer.encode(list(NOTHING)) @ scorer.encode(sentences).T).max(axis=1))
    assert np.median(unanswered) < np.median(answered)


def test_merged_into_the_model_the_adapters_encode_as_fitted(fitted, embedder, monkeypatch, tmp_path):
    adapters, path = fitted
    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "cache"))
    E.answer_encoder.cache_clear()
    try:
        merged = E.answer_encoder("torch", path)
        vectors = merged.encode(list(CODES))
        assert np.allclose(vectors, Scorer(adapters).encode(list(CODES)), atol=2e-3)
        assert float(np.mean(np.sum(vectors * embedder.encode(list(CODES)), axis=1))) < 0.95  # not the base model
        assert (tmp_path / "cache" / f"answer-encoder-{E.fingerprint(adapters)}" / "model.safetensors").exists()
        # untrained adapters (up = 0) leave the bundled model as it is
        zero = {k: (np.zeros_like(v) if k.endswith(".up") else v) for k, v in adapters.items()}
        still = Scorer(zero).encode(list(CODES))
        assert np.allclose(still, embedder.encode(list(CODES)), atol=1e-4)
    finally:
        E.answer_encoder.cache_clear()


def test_the_reader_reads_the_answer_encoders_cosine_for_every_candidate(pipeline):
    if pipeline.answer_encoder is None:
        pytest.skip("no answer encoder fitted")
    ctx, _, _ = pipeline.prepare("Do young people leaving care get help finding somewhere to live?")
    assert ctx.answer_vector is not None and abs(float(np.linalg.norm(ctx.answer_vector)) - 1) < 1e-3
    rows = np.stack([c.features for c in gather(ctx)])
    answer, base = rows[:, F.SENTENCE_FEATURES.index("answer_dense")], rows[:, F.SENTENCE_FEATURES.index("dense_question")]
    assert np.all(np.abs(answer) <= 1.0001) and not np.allclose(answer, base)
    assert rows[:, F.SENTENCE_FEATURES.index("rel_answer_dense")].max() == pytest.approx(0.0)


def test_a_reader_model_is_not_used_with_adapters_it_was_not_fitted_with(fitted, tmp_path, caplog):
    if not (MODEL_FILE.exists() and E.ADAPTERS_FILE.exists()):
        pytest.skip("no fitted reader model")
    for name in ("model.json", "ranker.txt", "confidence.txt", E.ADAPTERS_FILE.name):
        if (MODEL_FILE.parent / name).exists():
            shutil.copy(MODEL_FILE.parent / name, tmp_path / name)
    assert ReaderModel.load(tmp_path / "model.json").fitted
    shutil.copy(fitted[1], tmp_path / E.ADAPTERS_FILE.name)  # other adapters than the model was fitted with
    with caplog.at_level(logging.WARNING):
        model = ReaderModel.load(tmp_path / "model.json")
    assert not model.fitted and "qa calibrate" in caplog.text


def test_an_index_encoded_for_other_adapters_is_refused_until_rebuilt(index_dir, embedder, tmp_path):
    """After `qa calibrate` fits new adapters, the index's answer vectors belong to the old ones: the
    pipeline says to run `qa build`, and `qa build` does not call that index up to date."""
    import json

    from qa.builder import build
    from qa.index import IndexNotReady, current_version
    from qa.pipeline import Pipeline

    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    manifest_path = current_version(copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["answer_encoder"] = "0123456789abcdef"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexNotReady, match="qa build"):
        Pipeline(copy, embedder)
    summary = build(ROOT / "corpus", copy, embedder)
    assert not summary.get("up_to_date") and summary["answer_encoder"] == E.current_fingerprint()
    assert Pipeline(copy, embedder).index.manifest["answer_encoder"] == E.current_fingerprint()
