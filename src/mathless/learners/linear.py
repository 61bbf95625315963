"""A linear baseline: one weighted sum of the inputs (logistic or ridge regression).

It is fast, rarely the best, and a useful yardstick: if trees cannot beat it,
the relationship is simple. The learned weights are plain arrays, so the model
is predicted by hand with one matrix product, no library object to unpickle.
"""

from __future__ import annotations

import numpy as np

NAME = "linear"
TITLE = "linear model (logistic/ridge regression)"
MAX_ROWS = 200_000
# Inverse regularisation, most likely first (tried while time allows). Adding 30 and 100 (weaker, which TF-IDF
# text likes) left both text benchmarks unchanged and cost a test row on wine (bench/tables.py, 2026-11-25).
STRENGTHS = (1.0, 0.1, 10.0, 0.3, 3.0)



def warm_up() -> None:
    """Load the library before the clock for this learner starts."""
    import sklearn.linear_model  # noqa: F401

class Linear:
    def __init__(self, weight=None, bias=None, strength=None):
        self.weight, self.bias = weight, bias
        self.strength = strength  # set when refit() chose it for the model on all rows

    def fit(self, design, y, val_design, y_val, task, classes, deadline, seed=0, weights=None):
        """Fit for a few strengths of the pull towards zero (regularisation); keep the best on held-out rows."""
        import time

        X = design.dense
        if X.shape[0] > MAX_ROWS:  # a sample is plenty for a straight line
            rows = np.random.default_rng(seed).choice(X.shape[0], MAX_ROWS, replace=False)
            X, y = X[rows], np.asarray(y)[rows]
            weights = None if weights is None else np.asarray(weights)[rows]
        self.tried = {}  # strength -> (held-out error, (weight, bias), seconds): what refit() chooses from
        for strength in STRENGTHS:
            started = time.monotonic()
            candidate = self._fit_one(X, y, task, strength, weights)
            seconds = time.monotonic() - started
            self.tried[strength] = (_held_out_error(candidate, val_design, y_val, task), candidate, seconds)
            if time.monotonic() + seconds > deadline:
                break
        self.weight, self.bias = min(self.tried.values(), key=lambda t: t[0])[1]
        return self

    @staticmethod
    def _fit_one(X, y, task, strength, weights):
        from sklearn.linear_model import LogisticRegression, Ridge

        if task == "number":
            model = Ridge(alpha=1.0 / strength).fit(X, y, sample_weight=weights)
        else:
            import warnings

            from sklearn.exceptions import ConvergenceWarning

            with warnings.catch_warnings():  # a fit that is not fully settled is still judged on held-out rows
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = LogisticRegression(C=strength, max_iter=500).fit(X, y, sample_weight=weights)
        return np.atleast_2d(model.coef_).astype(np.float32), np.atleast_1d(model.intercept_).astype(np.float32)

    def predict(self, design, task):
        raw = np.asarray(design.dense @ self.weight.T) + self.bias
        if task == "number":
            return raw[:, 0]
        if raw.shape[1] == 1:  # two classes: one score for the second
            p = 1 / (1 + np.exp(-np.clip(raw[:, 0], -50, 50)))
            return np.column_stack([1 - p, p])
        raw = raw - raw.max(axis=1, keepdims=True)
        e = np.exp(raw)
        return e / e.sum(axis=1, keepdims=True)

    def arrays(self) -> dict:
        return {"weight": self.weight, "bias": self.bias}

    def meta(self) -> dict:
        return {"strength": self.strength} if self.strength else {}

    @classmethod
    def from_arrays(cls, arrays: dict, meta: dict) -> "Linear":
        return cls(arrays["weight"], arrays["bias"], meta.get("strength"))


def refit(design, y, folds, members, task, deadline):
    """One model on every row, with the regularisation the parts agree on.

    Each part (``Linear.fit``) chose its own strength on its own held-out rows, which flatters
    that part's score, and each saw only 80% of the rows. Here the strength with the
    lowest error summed over all parts is chosen (what scikit-learn's
    LogisticRegressionCV does), the held-out answers are redone with it, and one model
    learns from all rows with it - on small text tables those extra 20% matter.
    Returns (held-out answers, members); ``None`` when there is no time for the refit.
    """
    import time

    from mathless.learners.fit import rows_of

    shared = set.intersection(*(set(m.tried) for m in members))
    strength = min(shared, key=lambda c: sum(m.tried[c][0] for m in members))
    if time.monotonic() + 1.3 * max(m.tried[strength][2] for m in members) > deadline:  # 25% more rows than a part
        return None
    answers = None
    for member, (_, val_rows) in zip(members, folds):
        part = Linear(*member.tried[strength][1]).predict(rows_of(design, val_rows), task)
        if answers is None:
            answers = np.full((len(y),) + part.shape[1:], np.nan)
        answers[val_rows] = part
    rows = np.arange(len(y))
    if len(rows) > MAX_ROWS:
        rows = np.random.default_rng(0).choice(rows, MAX_ROWS, replace=False)
    weight, bias = Linear._fit_one(design.dense[rows], np.asarray(y)[rows], task, strength, None)
    return answers, [Linear(weight, bias, strength)]


def _held_out_error(weights_and_bias, design, y, task) -> float:
    probe = Linear(*weights_and_bias).predict(design, task)
    y = np.asarray(y)
    if task == "number":
        return float(np.mean((probe - y) ** 2))
    return float(-np.mean(np.log(np.clip(probe[np.arange(len(y)), y.astype(int)], 1e-7, 1))))
