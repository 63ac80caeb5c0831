"""The opt-in ONNX int8 backend: exported here from the bundled model, recorded in the index, used for questions."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.index import IndexNotReady, load_index, read_manifest

pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What grade did care leavers' services receive in 2024?"


@pytest.fixture(scope="module")
def onnx_env(tmp_path_factory):
    return os.environ | {"QA_MODEL_CACHE": str(tmp_path_factory.mktemp("model-cache")), "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def onnx_index(tmp_path_factory, onnx_env) -> Path:
    folder = tmp_path_factory.mktemp("onnx-index")
    result = subprocess.run([sys.executable, "-m", "qa", "build", "--index", str(folder), "--backend", "onnx-int8",
                             "--quiet"], capture_output=True, text=True, cwd=ROOT, env=onnx_env, timeout=600)
    assert result.returncode == 0, result.stderr
    return folder


def test_int8_index_answers_like_the_torch_one_and_never_loads_torch(onnx_index, onnx_env):
    assert read_manifest(onnx_index)["model"] == "all-MiniLM-L6-v2+onnx-int8"
    script = ("import json, sys; from pathlib import Path; from qa.pipeline import Pipeline; "
              f"reply = Pipeline(Path({str(onnx_index)!r})).ask({QUESTION!r}); "
              "print(json.dumps({'reply': reply, 'torch': 'torch' in sys.modules}))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=onnx_env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    reply = out["reply"]
    assert reply["answer"]["text"] == "Good" and not reply["abstained"]
    top = reply["passages"][0]
    assert top["document"]["year"] == 2024 and "care leavers" in top["text"].lower()
    assert out["torch"] is False  # questions over an int8 index are encoded without torch


def test_int8_vectors_stay_close_to_torch(onnx_index, index_dir):
    int8, torch_ = load_index(onnx_index), load_index(index_dir)
    assert [p.text for p in int8.passages] == [p.text for p in torch_.passages]
    cosine = np.sum(np.asarray(int8.vectors) * np.asarray(torch_.vectors), axis=1)
    assert cosine.min() > 0.9 and np.median(cosine) > 0.94  # measured: 0.936 and 0.958


def test_an_index_is_never_queried_or_extended_with_the_other_backend(onnx_index, embedder, tmp_path, onnx_env):
    with pytest.raises(IndexNotReady, match="built with all-MiniLM-L6-v2\\+onnx-int8"):
        load_index(onnx_index, model=embedder.name)
    # rebuilding the int8 index with torch embeds everything again instead of reusing int8 vectors
    import shutil

    from qa.builder import build

    copy = tmp_path / "copy"
    shutil.copytree(onnx_index, copy)
    summary = build(ROOT / "corpus", copy, embedder=embedder)
    assert summary["model"] == "all-MiniLM-L6-v2" and summary["embedded"] == summary["passages"]
