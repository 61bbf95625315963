"""The doctor: deterministic checks that say, in plain words, what went wrong and what to try.

Each check looks at evidence gathered while training (see insights.py) and
returns a finding or nothing. ``drift`` compares rows given to ``predict``
with the training profile.
"""

from __future__ import annotations

import numpy as np

from mathless.evaluation.metrics import is_classification

MIN_ROWS = 100
MIN_PER_CLASS = 10
RARE_SHARE = 0.10
OVERFIT_GAP = 0.10
LEAK_ACCURACY = 0.99
LEAK_R2 = 0.98
DRIFT_PSI = 0.25


def finding(check: str, message: str, advice: str) -> dict:
    return {"check": check, "message": message, "try": advice}


def _images(evidence) -> bool:
    """The same checks serve image models; only the words differ (images, not rows and columns)."""
    return evidence.get("kind") == "images"


def _noun(evidence) -> str:
    return "images" if _images(evidence) else "rows"


def gain(task, metrics, baseline) -> float:
    """Share of the naive guess's error the model removes (R² for numbers)."""
    if is_classification(task):
        room = 1 - baseline["accuracy"]
        return (metrics["accuracy"] - baseline["accuracy"]) / room if room > 0 else 0.0
    return metrics["r2"]


def examine(task, classes, metrics, baseline, evidence: dict) -> list:
    """All findings for a freshly trained model, most serious first."""
    checks = [_leakage, _underfitting, _overfitting, _diverged_or_stalled, _duplicates,
              _too_little_data, _imbalance]
    found = []
    for check in checks:
        result = check(task, classes, metrics, baseline, evidence)
        if result:
            found.extend(result if isinstance(result, list) else [result])
    return found


def _overfitting(task, classes, metrics, baseline, evidence):
    training = evidence.get("training_metrics")
    if not training:
        return None
    noun = _noun(evidence)
    advice = ("More images per class help most; for your own network, add dropout or use fewer filters and neurons; "
              "with photos, transfer learning (the default when the pretrained weights are installed) overfits far less."
              if _images(evidence) else
              "More rows help most. Remove columns that cannot matter (--ignore). For your own network, add dropout or use fewer neurons.")
    if is_classification(task):
        train_error, held_error = 1 - training["accuracy"], 1 - metrics["accuracy"]
        gap = held_error - train_error
        if gap >= OVERFIT_GAP or (gap >= OVERFIT_GAP / 2 and held_error >= 2 * train_error):
            return finding(
                "overfitting",
                f"Overfitting: on {noun} it learned from the model is right {training['accuracy'] * 100:.0f} times in 100, "
                f"on {noun} it never saw only {metrics['accuracy'] * 100:.0f}. It memorises examples instead of learning the pattern.",
                advice,
            )
    elif training["r2"] - metrics["r2"] >= 0.15:
        return finding(
            "overfitting",
            f"Overfitting: the model explains {training['r2'] * 100:.0f}% of the variation on rows it learned from, "
            f"but only {metrics['r2'] * 100:.0f}% on rows it never saw. It memorises examples instead of learning the pattern.",
            "More rows help most. Remove columns that cannot matter (--ignore). For your own network, add dropout or use fewer neurons.",
        )
    return None


def _underfitting(task, classes, metrics, baseline, evidence):
    if gain(task, metrics, baseline) >= 0.05:
        return None
    if _images(evidence):
        return finding(
            "underfitting",
            "Underfitting: the model is no better than always guessing the most common class on images it never saw.",
            "Check that each sub-folder really holds a different kind of picture; give more time (--time) or more "
            "images; for your own network, start from the default (leave out --layers) to see whether the design is the problem.",
        )
    return finding(
        "underfitting",
        "Underfitting: the model is no better than the naive guess on rows it never saw, so the columns "
        "do not seem to hold the answer (or not in a form the learners can use).",
        "Add columns that carry information about the answer; check the roles table (a number read as a category, "
        "or an important column ignored as an ID: force it with --role); check the target is what you meant.",
    )


def _leakage(task, classes, metrics, baseline, evidence):
    found = []
    alone = evidence.get("single_columns", {})
    base_score = baseline["accuracy"] if is_classification(task) else 0.0
    for column, result in alone.items():
        value, role = result["score"], result["role"]
        if is_classification(task):
            column_gain = (value - base_score) / (1 - base_score) if base_score < 1 else 0.0
            perfect = value >= LEAK_ACCURACY and base_score < LEAK_ACCURACY
            shown = f"right {value * 100:.1f} times in 100"
        else:
            column_gain = value
            perfect = value >= LEAK_R2
            shown = f"explains {value * 100:.1f}% of the variation"
        if role == "id" and column_gain >= 0.3:
            found.append(finding(
                "leakage",
                f"Suspected leakage: '{column}' looks like an ID or row number, yet on its own it predicts the answer "
                f"({shown}). The rows are probably sorted or numbered by the answer.",
                f"Check how '{column}' was made. It is already ignored; make sure no other column was made the same way.",
            ))
        elif role == "date" and column_gain >= 0.9:
            found.append(finding(
                "leakage",
                f"Suspected leakage: the date in '{column}' alone predicts the answer ({shown}); the answer may simply "
                f"follow when the row was recorded.",
                f"If that is not real, leave the date out with --ignore {column}.",
            ))
        elif role not in ("id", "date") and perfect:
            found.append(finding(
                "leakage",
                f"Suspected leakage: '{column}' alone predicts the answer almost perfectly ({shown}). "
                f"If it is only known after the answer, or is the answer written another way, the model will fail on real data.",
                f"If '{column}' will not be known when you predict, train again with --ignore {column}.",
            ))
    return found


def _imbalance(task, classes, metrics, baseline, evidence):
    counts = evidence.get("class_counts")
    if not counts:
        return None
    noun = _noun(evidence)
    total = sum(counts.values())
    # rare: under 10% of the rows, and under half the share every answer would have if all were equally common
    # (with 10 answers, 9% of the rows each is no imbalance)
    limit = min(RARE_SHARE, 0.5 / len(counts))
    rare = {label: n for label, n in counts.items() if n / total < limit}
    if not rare:
        return None
    shown = ", ".join(f"'{label}' {n:,} of {total:,} {noun} ({n / total:.0%})" for label, n in rare.items())
    return finding(
        "class imbalance",
        f"Class imbalance: {shown}. Accuracy can look good while the rare answer is mostly missed; "
        f"balanced accuracy here is {metrics['balanced_accuracy'] * 100:.0f} in 100.",
        f"Judge the model by balanced accuracy and the per-class results in the report; collect more {noun} of the rare answer.",
    )


def _too_little_data(task, classes, metrics, baseline, evidence):
    rows = evidence.get("rows", 0)
    noun = _noun(evidence)
    found = []
    if rows < MIN_ROWS:
        found.append(finding(
            "too little data",
            f"Too little data: {rows} {noun}. With so few, the score can change a lot with a few {noun} more or less.",
            "Collect more images; 20 or more per class, and with transfer learning even that goes a long way."
            if _images(evidence) else "Collect more rows; a few hundred is a good start for tables.",
        ))
    counts = evidence.get("class_counts") or {}
    few = {label: n for label, n in counts.items() if n < MIN_PER_CLASS}
    if few:
        shown = ", ".join(f"'{label}' ({n})" for label, n in few.items())
        found.append(finding(
            "too little data",
            f"Too few examples of {shown}: under {MIN_PER_CLASS} {noun} each, the model can hardly learn what they look like.",
            f"Collect more {noun} of these answers, or merge them with a similar answer.",
        ))
    return found


def _duplicates(task, classes, metrics, baseline, evidence):
    duplicates = evidence.get("duplicates")
    if not duplicates or duplicates["shared"] < 2 or duplicates["shared"] < 0.01 * duplicates["rows"]:
        return None
    share = duplicates["shared"] / duplicates["rows"]
    if _images(evidence):
        return finding(
            "duplicates",
            f"Duplicates: {duplicates['shared']:,} held-out images ({share:.0%}) are pixel-for-pixel copies of images the "
            f"model trained on, so the held-out score is too optimistic for pictures it has truly never seen.",
            "Remove the copies from the folders (the same photo saved twice, or under two classes).",
        )
    return finding(
        "duplicates",
        f"Duplicates: {duplicates['shared']:,} held-out rows ({share:.0%}) have an identical twin among the rows the model "
        f"trained on, so the held-out score is too optimistic for rows it has truly never seen.",
        "Remove duplicate rows before training, or keep repeated measurements of the same thing together.",
    )


def _diverged_or_stalled(task, classes, metrics, baseline, evidence):
    from mathless.evaluation.verdict import LEARNER_TITLES

    diverged, stalled = [], []
    for name, curve in evidence.get("curves", {}).items():
        held = list(curve.get("held_out", []))
        if any(not np.isfinite(v) for v in held) or name in evidence.get("diverged", []):
            diverged.append(LEARNER_TITLES.get(name, name))
        elif len(held) >= 3 and min(held) >= held[0] * 0.995:
            stalled.append(LEARNER_TITLES.get(name, name))
    found = []
    if diverged:
        found.append(finding(
            "training diverged",
            f"Training of the {' and the '.join(diverged)} diverged: its error became infinite or not a number, "
            f"so it was set aside.",
            "Usually a sign of extreme values: check for huge numbers or codes such as 999999 meaning 'missing'.",
        ))
    if stalled:
        found.append(finding(
            "training stalled",
            f"Training of the {' and the '.join(stalled)} stalled: the error on held-out {_noun(evidence)} never went below "
            f"where it was after the first step.",
            "If other learners did well, nothing to do. Otherwise the inputs may not hold the answer; for your own "
            "network, try fewer layers.",
        ))
    return found


# ---- drift at prediction time ------------------------------------------------

def drift(profile: dict, frame) -> list:
    """Columns whose values at prediction time differ clearly from training, said in words."""
    from mathless.evaluation.insights import _date_days
    from mathless.learners.prepare import as_dates, as_labels, as_numbers

    if len(frame) < 30:
        return []
    found = []
    for name, entry in profile.items():
        if name not in frame.columns:
            continue
        series = frame[name]
        missing_now = float(series.isna().mean())
        if missing_now - entry["missing"] >= 0.2:
            found.append(finding(
                "drift",
                f"Drift in '{name}': {missing_now:.0%} of its cells are empty now, {entry['missing']:.0%} were in training.",
                "Check how this column is filled in for the new rows.",
            ))
            continue
        if entry["role"] in ("number", "date") and len(entry.get("edges", [])) >= 3:
            values = as_numbers(series)[0] if entry["role"] == "number" else _date_days(as_dates(series)[0])
            values = values[np.isfinite(values)]
            if len(values) < 30:
                continue
            edges = np.asarray(entry["edges"])
            expected = np.full(len(edges) - 1, 1 / (len(edges) - 1))
            inner = edges[1:-1]
            actual = np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(edges) - 1) / len(values)
            if _shifted(expected, actual, len(values)):
                now, then = float(np.median(values)), entry["typical"]
                word = "higher" if now > then else "lower"
                outside = float(((values < edges[0]) | (values > edges[-1])).mean())
                found.append(finding(
                    "drift",
                    f"Drift in '{name}': values are mostly {word} than in training (middle value {now:.4g} now, "
                    f"{then:.4g} in training; {outside:.0%} outside the training range).",
                    "Predictions for such rows are less reliable; retrain with recent rows if this is the new normal.",
                ))
        elif entry["role"] in ("category", "yes/no") and entry.get("shares"):
            labels = as_labels(series).dropna()
            if len(labels) < 30:
                continue
            shares_now = labels.value_counts(normalize=True)
            keys = list(entry["shares"])
            expected = np.array([entry["shares"][k] for k in keys] + [max(1e-4, 1 - sum(entry["shares"].values()))])
            actual = np.array([float(shares_now.get(k, 0.0)) for k in keys] + [float(shares_now[~shares_now.index.isin(keys)].sum())])
            if _shifted(expected, actual, len(labels)):
                new = shares_now[~shares_now.index.isin(keys)]
                top_now = shares_now.index[0]
                detail = (f"{new.sum():.0%} are labels not seen in training (such as '{new.index[0]}')" if new.sum() >= 0.1
                          else f"'{top_now}' is now {shares_now.iloc[0]:.0%} of rows, {entry['shares'].get(top_now, 0):.0%} in training")
                found.append(finding(
                    "drift",
                    f"Drift in '{name}': the mix of labels has changed; {detail}.",
                    "Predictions for such rows are less reliable; retrain with recent rows if this is the new normal.",
                ))
    return found


def _shifted(expected, actual, rows: int) -> bool:
    """A clear shift (PSI at least 0.25) that is also unlikely to be chance at this many rows (chi-square, p < 0.001)."""
    from scipy.stats import chi2

    expected = np.clip(np.asarray(expected, dtype=float), 1e-4, None)
    actual = np.asarray(actual, dtype=float)
    statistic = rows * float(np.sum((actual - expected) ** 2 / expected))
    return _psi(expected, actual) >= DRIFT_PSI and chi2.sf(statistic, len(expected) - 1) < 0.001


def _psi(expected, actual) -> float:
    """Population stability index: 0 means the same mix, above 0.25 a clear shift."""
    expected = np.clip(np.asarray(expected, dtype=float), 1e-4, None)
    actual = np.clip(np.asarray(actual, dtype=float), 1e-4, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))
