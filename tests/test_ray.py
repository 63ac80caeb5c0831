"""`qa build --engine ray` on a local Ray with 2 CPUs: the same index as the local build, the embedding cache
still applies, and the evaluation gives the same figures over both."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests.conftest import CORPUS

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra")]


@pytest.fixture(scope="module")
def ray_index(tmp_path_factory):
    from qa.ray_engine import build_with_ray

    folder = tmp_path_factory.mktemp("ray-index")
    summary = build_with_ray(CORPUS, folder, workers=2, batch_size=32)
    assert summary["engine"] == "ray" and summary["embedded"] == summary["passages"]
    return folder


def test_a_ray_build_gives_the_same_passages_citations_and_vectors(ray_index, index_dir):
    from qa.index import load_index
    from qa.types import Hit

    local, remote = load_index(index_dir), load_index(ray_index)
    assert {d: local.documents[d] for d in local.documents} == {d: remote.documents[d] for d in remote.documents}
    assert len(local.passages) == len(remote.passages)
    for row in range(len(local.passages)):
        mine, theirs = local.passages[row], remote.passages[row]
        assert mine.to_dict() == theirs.to_dict()
        assert Hit(mine, local.documents[mine.document_id], 0, 0.0).citation == \
            Hit(theirs, remote.documents[theirs.document_id], 0, 0.0).citation
    assert np.abs(np.asarray(local.vectors) - np.asarray(remote.vectors)).max() <= 1e-5
    sentences = len(local.sentence_offsets) - 1
    assert local.sentence_offsets.tolist() == remote.sentence_offsets.tolist()
    rows = int(local.sentence_offsets[-1])
    assert np.abs(local.sentence_vectors.rows(0, rows) - remote.sentence_vectors.rows(0, rows)).max() <= 1e-5
    assert local.token_offsets.tolist() == remote.token_offsets.tolist() and sentences > 0
    tokens = int(local.token_offsets[-1])
    assert np.array_equal(local.token_ids.rows(0, tokens), remote.token_ids.rows(0, tokens))
    assert np.abs(np.asarray(local.word_vectors) - np.asarray(remote.word_vectors)).max() <= 1e-5
    # the reader's answer encoder ran on the workers too
    assert local.manifest["answer_encoder"] == remote.manifest["answer_encoder"]
    if local.answer_vectors is not None:
        assert np.abs(local.answer_vectors.rows(0, rows).astype(np.float32)
                      - remote.answer_vectors.rows(0, rows).astype(np.float32)).max() <= 2e-3


def test_a_ray_rebuild_reuses_every_embedding(ray_index):
    from qa.ray_engine import build_with_ray

    again = build_with_ray(CORPUS, ray_index, workers=2, force=True)
    assert again["embedded"] == 0


def test_the_evaluation_gives_the_same_figures_over_both(ray_index, pipeline, embedder):
    from eval.runner import evaluate, load_gold
    from qa.pipeline import Pipeline
    from tests.test_eval import GOLD

    gold = load_gold(GOLD)
    local, _ = evaluate(gold, pipeline)
    remote, _ = evaluate(gold, Pipeline(ray_index, embedder))
    for key in ("retrieval", "answers", "abstention", "holds"):
        assert flat(remote[key]) == pytest.approx(flat(local[key]), abs=1e-6), key


def flat(value, prefix: str = "") -> dict[str, float]:
    """A nested dict of figures as one level: {'hybrid.hit@1': 0.94, ...}."""
    if not isinstance(value, dict):
        return {prefix: value}
    return {k: v for key, item in value.items() for k, v in flat(item, f"{prefix}.{key}" if prefix else key).items()}
