"""Gradient-boosted trees (LightGBM): usually the strongest learner on tables.

Many small decision trees are added one after another, each correcting the
mistakes of the ones before. We stop adding trees when the held-out rows stop
getting better (or the time slice ends), so there is no number of trees to set.
"""

from __future__ import annotations

import time

import numpy as np

from mathless.machine import cores

NAME = "trees"
TITLE = "gradient-boosted trees (LightGBM)"


def _params(task: str, classes: int, rows: int, seed: int) -> dict:
    objective = {"yes/no": "binary", "one-of-many": "multiclass", "number": "regression"}[task]
    params = {
        "objective": objective,
        "learning_rate": 0.1 if rows > 200_000 else 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": int(max(3, min(20, rows // 40))),
        "min_data_per_group": int(max(3, min(100, rows // 40))),
        "cat_smooth": 10.0,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.9 if rows > 1000 else 1.0,
        "bagging_freq": 1 if rows > 1000 else 0,
        "lambda_l2": 1.0,
        "num_threads": 1 if rows < 20_000 else cores(),
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    if objective == "multiclass":
        params["num_class"] = classes
    return params



def warm_up() -> None:
    """Load the library before the clock for this learner starts."""
    import lightgbm  # noqa: F401

class Trees:
    """One LightGBM booster; ``fit`` stops early on held-out rows or at ``deadline``."""

    def __init__(self, booster=None):
        self.booster = booster
        self.curve: dict = {}

    def fit(self, design, y, val_design, y_val, task, classes, deadline, seed=0, weights=None):
        import lightgbm as lgb

        params = _params(task, classes, design.trees.shape[0], seed)
        categorical = design.tree_categorical or "auto"
        train = lgb.Dataset(design.trees, label=y, weight=weights, categorical_feature=categorical,
                            feature_name=_safe_names(design.tree_names), free_raw_data=False)
        valid = lgb.Dataset(val_design.trees, label=y_val, reference=train)

        def stop_at_deadline(env):
            if time.monotonic() > deadline and env.iteration > 0:
                raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

        history: dict = {}
        self.booster = lgb.train(
            params, train, num_boost_round=20_000, valid_sets=[train, valid],
            valid_names=["training", "held_out"],
            callbacks=[lgb.early_stopping(100, verbose=False, first_metric_only=True),
                       lgb.record_evaluation(history), stop_at_deadline],
        )
        self.curve = _curve(history, task)
        return self

    def predict(self, design, task):
        raw = self.booster.predict(design.trees, num_iteration=self.booster.best_iteration or None)
        if task == "yes/no":
            return np.column_stack([1 - raw, raw])
        return raw

    @property
    def rounds(self) -> int:
        return int(self.booster.best_iteration or self.booster.current_iteration())

    def to_text(self) -> str:
        return self.booster.model_to_string(num_iteration=self.booster.best_iteration or None)

    @classmethod
    def from_text(cls, text: str) -> "Trees":
        import lightgbm as lgb

        booster = lgb.Booster(model_str=text)
        return cls(booster)


def _curve(history: dict, task: str) -> dict:
    """Error on training and held-out rows after each tree (log loss, or RMSE for numbers)."""
    curve = {}
    for name, metrics in history.items():
        values = np.asarray(next(iter(metrics.values())), dtype=float)
        curve[name] = np.sqrt(values).tolist() if task == "number" else values.tolist()
    return curve


def _safe_names(names):
    """LightGBM rejects some characters in feature names; number them instead, keeping order."""
    return [f"f{i}" for i in range(len(names))]
