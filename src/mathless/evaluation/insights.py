"""What training found out beyond the headline number, kept for the report and the doctor.

All of it is measured on rows the learners did not train on (except where it
says 'training'), and stored as plain data in the model folder:
- a profile of every column (to spot drift at prediction time, and a typical
  row for explanations);
- learning curves (error on training and held-out rows as training went on);
- the confusion matrix and per-class results, or predicted-vs-actual pairs;
- what mattered most (permutation importance: how much worse the held-out
  error gets when one column's values are shuffled);
- the worst mistakes, as rows;
- evidence for the doctor: training vs held-out score, duplicates across the
  splits, and how well each column alone predicts the answer.
"""

from __future__ import annotations

import time

import numpy as np

from mathless.evaluation.metrics import is_classification, primary, score

MAX_PAIRS = 1000
MAX_CURVE_POINTS = 200
IMPORTANCE_ROWS = 2000


def profile(frame, prep) -> dict:
    """Per used column: missing share, and deciles (numbers) or label shares (categories)."""
    from mathless.learners.prepare import as_dates, as_labels, as_numbers

    out = {}
    for spec in prep.columns:
        name, role = spec["name"], spec["role"]
        series = frame[name]
        entry = {"role": role, "missing": float(series.isna().mean())}
        if role in ("number", "date"):
            values = as_numbers(series)[0] if role == "number" else _date_days(as_dates(series)[0])
            finite = values[np.isfinite(values)]
            if len(finite):
                entry["edges"] = np.unique(np.quantile(finite, np.linspace(0, 1, 11))).tolist()
                entry["typical"] = float(np.median(finite))
                entry["mean"], entry["std"] = float(finite.mean()), float(finite.std())
        elif role in ("category", "yes/no"):
            labels = as_labels(series).dropna()
            shares = labels.value_counts(normalize=True)
            entry["shares"] = {str(k): float(v) for k, v in shares.head(50).items()}
            entry["typical"] = str(shares.index[0]) if len(shares) else ""
        elif role == "text":
            entry["typical"] = ""
            entry["mean_words"] = float(series.fillna("").astype(str).str.split().str.len().mean())
        out[name] = entry
    return out


def _date_days(dates):
    return ((dates - np.datetime64("1970-01-01")).dt.total_seconds() / 86400.0).to_numpy(dtype=float, na_value=np.nan)


def typical_row(profile_: dict, columns) -> dict:
    """A made-up 'typical' row: the median of each number, the most common label of each category."""
    import pandas as pd

    row = {}
    for name in columns:
        entry = profile_.get(name)
        if entry is None:
            row[name] = None
        elif entry["role"] == "date" and "typical" in entry:
            row[name] = str(pd.Timestamp("1970-01-01") + pd.to_timedelta(entry["typical"], unit="D"))
        else:
            row[name] = entry.get("typical")
    return row


def downsample(values, points: int = MAX_CURVE_POINTS) -> list:
    values = list(values)
    if len(values) <= points:
        return [float(v) for v in values]
    index = np.linspace(0, len(values) - 1, points).round().astype(int)
    return [float(values[i]) for i in index]


def curves(results: dict) -> dict:
    """Learning curves of one cross-validation part per learner (the one that trained longest)."""
    out = {}
    for name, result in results.items():
        found = [m.curve for m in result["members"] if getattr(m, "curve", None)]
        if found:
            curve = max(found, key=lambda c: len(c.get("held_out", [])))
            out[name] = {k: downsample(v) for k, v in curve.items()}
    return out


def outcome_tables(task, classes, y, predicted, rows) -> dict:
    """Confusion matrix and per-class results, or a sample of (actual, predicted) pairs."""
    y, predicted = y[rows], predicted[rows]
    if is_classification(task):
        chosen = predicted.argmax(axis=1)
        k = len(classes)
        matrix = np.zeros((k, k), dtype=int)
        np.add.at(matrix, (y, chosen), 1)
        per_class = {}
        for i, label in enumerate(classes):
            support = int(matrix[i].sum())
            said = int(matrix[:, i].sum())
            per_class[label] = {
                "rows": support,
                "found": float(matrix[i, i] / support) if support else 0.0,  # recall
                "right_when_said": float(matrix[i, i] / said) if said else 0.0,  # precision
            }
        return {"confusion": matrix.tolist(), "per_class": per_class}
    pick = np.random.default_rng(0).choice(len(y), min(MAX_PAIRS, len(y)), replace=False)
    return {"pairs": [[float(y[i]), float(predicted[i])] for i in sorted(pick)]}


def worst_mistakes(frame, target, task, classes, y, predicted, rows, count: int = 5) -> list:
    """The held-out rows the model got most wrong, with their values."""
    y_rows, p_rows = y[rows], predicted[rows]
    if is_classification(task):
        badness = -np.log(np.clip(p_rows[np.arange(len(rows)), y_rows], 1e-9, 1))
    else:
        badness = np.abs(p_rows - y_rows)
    order = np.argsort(-badness)[:count]
    out = []
    for i in order:
        row = frame.iloc[int(rows[i])]
        values = {str(k): _cell(v) for k, v in row.drop(labels=[target]).items()}
        if is_classification(task):
            truth, said = classes[int(y_rows[i])], classes[int(p_rows[i].argmax())]
            detail = f"chance given to the true answer: {p_rows[i][int(y_rows[i])]:.0%}"
        else:
            truth, said = _cell(float(y_rows[i])), _cell(float(p_rows[i]))
            detail = f"off by {abs(float(p_rows[i]) - float(y_rows[i])):.4g}"
        out.append({"row": int(rows[i]) + 1, "truth": truth, "predicted": said, "detail": detail, "values": values})
    return out


def _cell(value):
    """A cell as short text: numbers to 4 significant digits, missing as None."""
    if value is None or value != value:
        return None
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def permutation_importance(frame_rows, y_rows, predict, columns, task, deadline, seed=0) -> dict:
    """How much the held-out error grows when one column is shuffled (0 = the model ignores it)."""
    rng = np.random.default_rng(seed)
    metric = primary(task)
    base = score(task, y_rows, predict(frame_rows))[metric]
    out = {}
    for column in columns:
        if time.monotonic() > deadline:
            break
        shuffled = frame_rows.copy()
        shuffled[column] = rng.permutation(shuffled[column].to_numpy())
        out[column] = float(score(task, y_rows, predict(shuffled))[metric] - base)
    return dict(sorted(out.items(), key=lambda item: -item[1]))


def duplicates_across(frame, columns, folds) -> dict:
    """Held-out rows that appear, identical (inputs and answer), among the rows a learner trained on."""
    import pandas as pd

    if not columns:
        return {"shared": 0, "rows": int(len(frame))}
    hashes = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()
    shared = 0
    for train_rows, val_rows in folds:
        seen = set(hashes[train_rows].tolist())
        shared += int(sum(1 for h in hashes[val_rows] if h in seen))
    return {"shared": shared, "rows": int(sum(len(v) for _, v in folds))}


def single_column_scores(frame, roles, target_y, task, folds, deadline) -> dict:
    """How well each column alone predicts the answer on held-out rows (a small tree on it)."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from mathless.learners.prepare import as_dates, as_labels, as_numbers

    train_rows, val_rows = folds[0]
    limit = 20_000
    if len(train_rows) > limit:
        train_rows = np.random.default_rng(0).choice(train_rows, limit, replace=False)
    out = {}
    for role in roles:
        if time.monotonic() > deadline:
            break
        if role["role"] in ("text", "constant", "empty"):
            continue
        series = frame[role["column"]]
        if role["role"] in ("number",):
            values = as_numbers(series)[0]
        elif role["role"] == "date":
            values = _date_days(as_dates(series)[0])
        else:  # categories, yes/no and ID columns: an ordinal code (ID order can leak too)
            labels = as_labels(series)
            codes = labels.astype("category").cat.codes.to_numpy(dtype=float)
            values = np.where(codes < 0, np.nan, codes)
            if role["role"] == "id":
                try:
                    values = as_numbers(series)[0] if as_numbers(series)[1] == 0 else values
                except (TypeError, ValueError):
                    pass
        X = np.nan_to_num(values, nan=-1e12).reshape(-1, 1)
        Model = DecisionTreeClassifier if is_classification(task) else DecisionTreeRegressor
        model = Model(max_depth=4, min_samples_leaf=5, random_state=0).fit(X[train_rows], target_y[train_rows])
        predicted = model.predict(X[val_rows])
        if is_classification(task):
            value = float((predicted == target_y[val_rows]).mean())
        else:
            truth = target_y[val_rows]
            total = float(((truth - truth.mean()) ** 2).sum())
            value = float(1 - ((predicted - truth) ** 2).sum() / total) if total > 0 else 0.0
        out[role["column"]] = {"role": role["role"], "score": value}
    return out
