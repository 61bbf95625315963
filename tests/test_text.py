"""Sentence embeddings for text columns: offline model when installed, a plain None when not."""

from __future__ import annotations

import numpy as np
import pytest

from mathless.text import embed


needs_model = pytest.mark.skipif(not embed.available(), reason=str(embed.why_unavailable()))


@needs_model
def test_similar_meanings_get_similar_numbers():
    vectors = embed.embed_texts(["a great film, I loved it", "this movie was wonderful", "the tax office closes at noon"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.3


@needs_model
def test_awkward_texts_all_get_a_row():
    texts = ["", None, float("nan"), 42, "😀🎉 great!!!", "这部电影很好看", "Фильм отличный", "word " * 5000]
    vectors = embed.embed_texts(texts)
    assert vectors.shape == (len(texts), 384) and np.isfinite(vectors).all()
    assert np.allclose(vectors[0], vectors[1])  # missing values read as empty text
    assert embed.embed_texts([]).shape == (0, 384)


def test_without_a_model_the_answer_is_none_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("MATHLESS_TEXT_MODEL", str(tmp_path / "no-such-model"))
    assert not embed.available()
    assert embed.embed_texts(["hello"]) is None
    assert "MATHLESS_TEXT_MODEL" in embed.why_unavailable()
