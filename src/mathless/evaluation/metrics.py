"""The standard numbers, each with a one-sentence meaning, and the naive baselines.

``score`` returns a dict of plain floats so it can be stored in a manifest.
Predictions are probabilities (rows x classes) for classification, values for
numbers.
"""

from __future__ import annotations

import numpy as np

MEANINGS = {
    "accuracy": "share of rows where the answer was right",
    "balanced_accuracy": "accuracy averaged over the classes, so a rare class counts as much as a common one",
    "roc_auc": "chance that a random positive row gets a higher score than a random negative one (0.5 is guessing, 1 is perfect)",
    "log_loss": "how confident the model was in the right answer, lower is better (0 is perfect)",
    "mae": "average distance between the prediction and the truth",
    "rmse": "like MAE but large misses count more",
    "r2": "share of the variation in the answer the model explains (0 is guessing the average, 1 is perfect)",
}


def is_classification(task: str) -> bool:
    return task in ("yes/no", "one-of-many")


def score(task: str, y, predicted) -> dict:
    from sklearn import metrics

    y = np.asarray(y)
    if is_classification(task):
        probabilities = np.clip(np.asarray(predicted, dtype=float), 1e-7, 1)
        probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
        classes = probabilities.shape[1]
        chosen = probabilities.argmax(axis=1)
        out = {
            "accuracy": float(metrics.accuracy_score(y, chosen)),
            "balanced_accuracy": float(_balanced_accuracy(y, chosen)),
            "log_loss": float(metrics.log_loss(y, probabilities, labels=list(range(classes)))),
        }
        present = np.unique(y)
        if len(present) >= 2:
            try:
                if classes == 2:
                    out["roc_auc"] = float(metrics.roc_auc_score(y, probabilities[:, 1]))
                elif len(present) == classes:
                    out["roc_auc"] = float(metrics.roc_auc_score(y, probabilities, multi_class="ovr"))
            except ValueError:
                pass
        return out
    predicted = np.asarray(predicted, dtype=float)
    errors = predicted - y.astype(float)
    total = float(((y - y.mean()) ** 2).sum())
    return {
        "mae": float(np.abs(errors).mean()),
        "rmse": float(np.sqrt((errors ** 2).mean())),
        "r2": float(1 - (errors ** 2).sum() / total) if total > 0 else 0.0,
    }


def _balanced_accuracy(y, chosen) -> float:
    recalls = [float((chosen[y == c] == c).mean()) for c in np.unique(y)]
    return float(np.mean(recalls))


def baseline_predictions(task: str, y_train, rows: int, classes: int):
    """What a model that ignores the inputs would say: the most common class's share, or the average."""
    if is_classification(task):
        shares = np.bincount(np.asarray(y_train, dtype=int), minlength=classes) / len(y_train)
        return np.tile(shares, (rows, 1))
    return np.full(rows, float(np.mean(y_train)))


def primary(task: str) -> str:
    """The number used to choose between learners (lower is better for both)."""
    return "log_loss" if is_classification(task) else "rmse"
