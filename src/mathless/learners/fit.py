"""From a table to the best model: read, understand, prepare, train, compare, choose.

The flow, top to bottom:
1. read the table and check the target column;
2. work out the task and every column's role (with reasons, shown to the user);
3. prepare the columns as numbers (text as word counts or sentence embeddings,
   whichever does better on held-out rows);
4. train each learner on the same splits (5-fold cross-validation on up to
   20,000 rows, otherwise one held-out 20%), each within its slice of the time
   budget;
5. blend the learners' held-out predictions where that helps, and score the
   result against the naive baseline on rows no learner trained on;
6. gather what the report and the doctor need, in the last 15% of the budget.
A table whose column names image files goes to the image learner instead.
"""

from __future__ import annotations

import time

import numpy as np

from mathless.data.read import describe, read_table
from mathless.data.roles import infer_roles, infer_task, normalise_task
from mathless.errors import UserError, did_you_mean
from mathless.evaluation.metrics import baseline_predictions, is_classification, score
from mathless.learners import linear, network, trees
from mathless.learners.budget import Budget
from mathless.learners.prepare import Design, TablePrep, as_labels, as_numbers

MIN_ROWS = 10
CROSS_VALIDATION_ROWS = 20_000
TRAINING_SHARE = 0.85  # the rest of the time budget is for the checks behind the report
# (module, learner class, share of the time left when its turn comes)
LEARNERS = [(trees, trees.Trees, 0.55), (linear, linear.Linear, 0.15), (network, network.Network, 0.9)]


def fit(data, target=None, time_limit=60, task=None, roles=None, ignore=(), seed=0, quiet=False,
        layers=None, network=None):
    from rich.console import Console

    from mathless.model import TableModel

    if target is None:
        raise UserError("Say which column to predict: fit(data, target='price').")
    if not time_limit or float(time_limit) <= 0:
        raise UserError(f"The time budget must be a positive number of seconds (got {time_limit}).")
    console = Console(stderr=True, quiet=quiet, highlight=False)
    budget = Budget(float(time_limit), quiet)
    notes: list = []
    frame = read_table(data, notes)
    where = describe(data)
    frame, y, task, task_reason, classes = _target(frame, str(target), task, where, notes)
    found_roles = infer_roles(frame, str(target), roles, list(ignore or ()))
    images = [r.column for r in found_roles if r.role == "image"]
    if images:
        return _fit_image_table(data, frame, str(target), images, found_roles, budget, console,
                                quiet=quiet, seed=seed, layers=layers, network=network)
    from mathless.evaluation.verdict import print_roles

    print_roles(console, found_roles, str(target), task, task_reason, len(frame))
    prep = TablePrep.fit(frame, found_roles)
    folds, validation = _folds(y, task, len(frame), seed)
    own = layers if layers is not None else network
    if own is not None and _starts_with_embedding(own):
        text_reading = {"chosen": "word counts (TF-IDF)", "why": "your network starts with `embedding`, which reads words"}
    else:
        text_reading = _choose_text_reading(frame, y, task, prep, folds, budget)
    design = prep.transform(frame)
    notes.extend(design.notes)
    for note in notes:
        console.print(f"Note: {note}")

    learners = LEARNERS
    if own is not None:
        learners = [_own_network(own, design, task, classes, console)]
    with budget:
        budget.stage(TRAINING_SHARE)
        results, stopped = _train_all(design, y, task, len(classes), folds, budget, seed, learners)
        if stopped:
            console.print(f"Stopped with Ctrl-C: the model is made of the learners that had finished "
                          f"({', '.join(results)}); checking it on held-out rows before it is saved.")
        for name, result in results.items():  # blow-ups the training loop caught and retried
            for note in dict.fromkeys(n for m in result["members"] for n in getattr(m, "notes", [])):
                console.print(f"Note ({name}): {note}")
        budget.stage(1.0)
        held_out = np.concatenate([val for _, val in folds])
        weights, blended = _blend({name: r["oof"] for name, r in results.items()}, y, held_out, task)
        baseline = np.empty_like(blended)
        for train_rows, val_rows in folds:
            baseline[val_rows] = baseline_predictions(task, y[train_rows], len(val_rows), len(classes))
        metrics = score(task, y[held_out], blended[held_out])
        leaderboard = {name: score(task, y[held_out], r["oof"][held_out]) for name, r in results.items()}
        leaderboard["blend"] = dict(metrics)
        budget.step("checks for the report")
        evidence = _gather_evidence(frame, str(target), design, y, task, classes, folds, results, weights,
                                    blended, held_out, prep, found_roles, budget)
    model = TableModel(
        target=str(target), task=task, task_reason=task_reason, classes=classes,
        roles=[{"column": r.column, "role": r.role, "reason": r.reason} for r in found_roles],
        prep=prep,
        # learners with no share are kept too (explain walks through the network), but not used to predict
        learners=[(name, weights[name], results[name]["members"]) for name in results],
        metrics=metrics, baseline=score(task, y[held_out], baseline[held_out]),
        evaluation={
            "method": validation, "rows": int(len(held_out)),
            "baseline_answer": _baseline_answer(task, y, classes),
            "class_shares": _class_shares(task, y, classes),
            "leaderboard": leaderboard, "weights": weights,
            "seconds": round(budget.elapsed(), 1), "time_limit": float(time_limit),
            "text_reading": text_reading,
        },
        data=_describe_data(data, frame, target, notes),
        insights=evidence,
    )
    if not quiet:
        from mathless.evaluation.verdict import print_verdict

        print_verdict(console, model, title=f"How good is it? ({validation}, {len(held_out):,} rows)")
    return model


def _target(frame, target, task, where, notes):
    if target not in frame.columns:
        raise UserError(
            f"There is no column '{target}' in {where}.{did_you_mean(target, frame.columns)} "
            f"The columns are: {', '.join(map(str, list(frame.columns)[:20]))}"
            f"{' …' if frame.shape[1] > 20 else ''}."
        )
    answer = frame[target]
    missing = answer.isna()
    if missing.all():
        raise UserError(f"Every value of '{target}' in {where} is missing, so there is nothing to learn. Fill in the answers, or choose another --target.")
    if missing.any():
        notes.append(f"{int(missing.sum()):,} rows with no value for '{target}' were left out of training.")
        frame = frame.loc[~missing].reset_index(drop=True)
        answer = frame[target]
    if len(frame) < MIN_ROWS:
        raise UserError(
            f"{where} has only {len(frame)} row{'s' if len(frame) != 1 else ''} with a value for '{target}'; "
            f"at least {MIN_ROWS} are needed to learn anything (hundreds to learn well). Add more rows."
        )
    if task:
        task, task_reason = normalise_task(task), "you said so"
    else:
        task, task_reason = infer_task(answer, target)
    if is_classification(task):
        labels = as_labels(answer)
        classes = _sorted_labels(labels.unique())
        if len(classes) < 2:
            raise UserError(
                f"'{target}' has only one value ('{classes[0]}') in {where}, so there is nothing to tell apart. "
                f"Add rows with the other answers."
            )
        if task == "yes/no" and len(classes) > 2:
            raise UserError(f"A yes/no task needs exactly two values, but '{target}' has {len(classes)}. Use --task one-of-many.")
        y = labels.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=int)
        return frame, y, task, task_reason, classes
    values, bad = as_numbers(answer)
    if bad:
        if bad > 0.05 * len(values):
            raise UserError(
                f"'{target}' is not a number in {bad:,} of {len(values):,} rows, so it cannot be predicted as a number. "
                f"Use --task one-of-many to predict it as a label, or clean the column."
            )
        notes.append(f"{bad:,} rows where '{target}' is not a number were left out of training.")
        keep = np.isfinite(values)
        frame, values = frame.loc[keep].reset_index(drop=True), values[keep]
    return frame, values.astype(float), task, task_reason, []


def _sorted_labels(labels) -> list:
    labels = [str(v) for v in labels if v == v]
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def _folds(y, task, rows, seed):
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    smallest = int(np.bincount(y).min()) if is_classification(task) else 0
    stratify = is_classification(task) and smallest >= 2
    if rows <= CROSS_VALIDATION_ROWS:
        k = max(2, min(5, smallest)) if stratify else 5
        splitter = (StratifiedKFold if stratify else KFold)(n_splits=k, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(rows), y)), f"{k}-fold cross-validation"
    train_rows, val_rows = train_test_split(
        np.arange(rows), test_size=0.2, random_state=seed, stratify=y if stratify else None
    )
    return [(np.sort(train_rows), np.sort(val_rows))], "a held-out 20% of rows"


def rows_of(design: Design, rows) -> Design:
    return Design(design.trees[rows], design.dense[rows], design.tree_names,
                  design.tree_categorical, design.dense_names, text_spans=design.text_spans)


def _fit_image_table(data, frame, target, images, roles, budget, console, **options):
    """A table whose column names image files: the images are what to learn from (see mathless/images)."""
    from pathlib import Path

    from mathless.images.fit import fit_images

    others = [r.column for r in roles if r.used and r.column not in images]
    console.print(f"Column '{images[0]}' holds image files: learning from the images"
                  + (f" (the other columns, {', '.join(others[:5])}, are not used with images yet)." if others else "."))
    is_file = type(data).__name__ != "DataFrame"
    return fit_images(data if is_file else frame, target=target, image_column=images[0],
                      base_folder=Path(data).parent if is_file else None,
                      time_limit=max(1.0, budget.left()), **options)


def _choose_text_reading(frame, y, task, prep, folds, budget) -> dict:
    """Word counts (TF-IDF) or a pretrained sentence model for text columns: whichever a linear model
    does better with on held-out rows. Word counts are always available; the sentence model when installed."""
    from mathless.text.embed import available, why_unavailable

    texts = [spec for spec in prep.columns if spec["role"] == "text"]
    if not texts:
        return {}
    if not available():
        return {"chosen": "word counts (TF-IDF)", "why": why_unavailable()}
    from scipy import sparse

    from mathless.learners.prepare import _text_matrix, embed_column

    budget.step("reading text with the sentence model")
    column = frame[texts[0]["name"]]
    embed_column(column.iloc[:4])  # loads the model; not part of the per-text estimate
    sample = column.iloc[4:68]
    started = time.monotonic()
    embed_column(sample)
    per_row = (time.monotonic() - started) / max(1, len(sample))
    if per_row * len(frame) * len(texts) > 0.6 * budget.left():
        return {"chosen": "word counts (TF-IDF)",
                "why": f"reading {len(frame):,} texts with the sentence model would take about "
                       f"{per_row * len(frame) * len(texts):.0f} s; give a longer --time to try it"}
    train_rows, val_rows = folds[0]
    counts = sparse.hstack([_text_matrix(frame[s["name"]], s) for s in texts], format="csr")
    meanings = np.hstack([embed_column(frame[s["name"]]) for s in texts])
    scores = {}
    for reading, X in (("word counts (TF-IDF)", counts), ("sentence embeddings (all-MiniLM-L6-v2)", meanings)):
        # the same linear learner the fit uses (it picks its regularisation on these held-out rows)
        train = Design(X[train_rows], X[train_rows], [], [], [])
        val = Design(X[val_rows], X[val_rows], [], [], [])
        classes = int(y.max()) + 1 if is_classification(task) else 0
        probe = linear.Linear().fit(train, y[train_rows], val, y[val_rows], task, classes,
                                    deadline=time.monotonic() + 0.1 * budget.left())
        predicted = probe.predict(val, task)
        truth = y[val_rows]
        if is_classification(task):
            scores[reading] = float((predicted.argmax(axis=1) == truth).mean())
        else:
            scores[reading] = float(1 - ((predicted - truth) ** 2).sum() / ((truth - truth.mean()) ** 2).sum())
    chosen = max(scores, key=scores.get)
    if chosen.startswith("sentence"):
        for spec in texts:
            spec["reading"] = "embedding"
    measure = "accuracy" if is_classification(task) else "R²"
    return {"chosen": chosen, "scores": scores, "measure": measure}


def _starts_with_embedding(spec) -> bool:
    from mathless.networks.layers import parse_layers

    layers = parse_layers(spec)
    return bool(layers) and layers[0].word == "embedding"


def _own_network(spec, design, task, classes, console):
    """The user's network from layer words, checked against this data before any training."""
    from mathless.networks.layers import build_network, parse_layers, print_shape_table, words_of

    words = words_of(parse_layers(spec))
    _, rows = build_network(words, (design.dense.shape[1],), len(classes) if classes else 1, design.text_spans)
    print_shape_table(rows, console, title="Your network, layer by layer")
    return network, lambda: network.Network(words=words), 1.0


def _train_all(design, y, task, classes, folds, budget, seed, learners=LEARNERS) -> tuple[dict, bool]:
    """Each learner on the same parts; with Ctrl-C the learners that had finished make the model.

    Returns (results, whether training was stopped with Ctrl-C).
    """
    results = {}
    try:
        for module, learner, share in learners:
            if budget.left() < 0.5 and results:
                break
            module.warm_up()  # import its library first: loading PyTorch must not eat the learner's time slice
            candidate_deadline = budget.slice(share)
            oof = np.full((len(y), classes), np.nan) if classes else np.full(len(y), np.nan)
            members = []
            for i, (train_rows, val_rows) in enumerate(folds):
                budget.step(module.TITLE, f"part {i + 1} of {len(folds)}" if len(folds) > 1 else "")
                fold_deadline = time.monotonic() + (candidate_deadline - time.monotonic()) / (len(folds) - i)
                train, val = rows_of(design, train_rows), rows_of(design, val_rows)
                member = learner().fit(train, y[train_rows], val, y[val_rows], task, classes, fold_deadline, seed + i)
                if getattr(member, "epochs", 1) == 0:  # the time ran out before it learned anything
                    break
                oof[val_rows] = member.predict(val, task)
                members.append(member)
            else:
                # the first part's model stays for the report's checks, which need rows it did not learn from
                results[module.NAME] = {"oof": oof, "members": members, "first_part": members[0]}
                again = module.refit(design, y, folds, members, task, candidate_deadline) if (
                    hasattr(module, "refit") and len(folds) > 1) else None
                if again is not None:  # one model on all rows replaces the parts (see linear.refit)
                    results[module.NAME].update(oof=again[0], members=again[1])
    except KeyboardInterrupt:
        if not results:
            raise UserError("Stopped with Ctrl-C before any learner had finished, so there is no model to keep. "
                            "Run the fit again; a shorter --time ends sooner.") from None
        return results, True
    return results, False


def _gather_evidence(frame, target, design, y, task, classes, folds, results, weights, blended, held_out,
                     prep, roles, budget) -> dict:
    """Everything the report and the doctor need, measured on held-out rows (see evaluation/insights.py)."""
    from mathless.evaluation import insights

    used = [spec["name"] for spec in prep.columns]
    role_dicts = [{"column": r.column, "role": r.role} for r in roles]
    train0, val0 = folds[0]

    def blend_first_part(rows_design):
        total = 0
        for name, result in results.items():
            if weights[name] > 0:
                total = total + weights[name] * result["first_part"].predict(rows_design, task)
        return total

    sample = train0 if len(train0) <= 20_000 else np.random.default_rng(0).choice(train0, 20_000, replace=False)
    training_metrics = score(task, y[sample], blend_first_part(rows_of(design, sample)))
    val_sample = val0 if len(val0) <= insights.IMPORTANCE_ROWS else np.sort(
        np.random.default_rng(0).choice(val0, insights.IMPORTANCE_ROWS, replace=False))
    frame_rows = frame.iloc[val_sample].reset_index(drop=True)
    importance = insights.permutation_importance(
        frame_rows, y[val_sample], lambda f: blend_first_part(prep.transform(f)), used, task,
        deadline=max(budget.start + budget.seconds * 0.97, time.monotonic() + 1.0),
    )
    evidence = {
        "rows": int(len(frame)),
        "profile": insights.profile(frame, prep),
        "curves": insights.curves(results),
        "diverged": [name for name, r in results.items() if any(getattr(m, "diverged", False) for m in r["members"])],
        "training_metrics": training_metrics,
        "importance": importance,
        "duplicates": insights.duplicates_across(frame, used + [target], folds),
        "worst": insights.worst_mistakes(frame, target, task, classes, y, blended, held_out),
        "class_counts": ({str(c): int(n) for c, n in zip(classes, np.bincount(y, minlength=len(classes)))}
                         if is_classification(task) else {}),
    }
    evidence.update(insights.outcome_tables(task, classes, y, blended, held_out))
    evidence["single_columns"] = insights.single_column_scores(
        frame, role_dicts, y, task, folds, deadline=budget.start + budget.seconds * 0.99)
    return evidence


def _blend(oofs: dict, y, rows, task, rounds: int = 20):
    """Greedy ensemble selection: repeatedly add the learner that most improves held-out error."""
    names = list(oofs)
    counts = dict.fromkeys(names, 0)
    current = None
    truth = y[rows]
    for step in range(rounds):
        trials = {}
        for name in names:
            trial = oofs[name] if current is None else (current * step + oofs[name]) / (step + 1)
            trials[name] = (_error(task, truth, trial[rows]), trial)
        best = min(trials, key=lambda n: trials[n][0])
        counts[best] += 1
        current = trials[best][1]
    weights = {name: counts[name] / rounds for name in names}
    return weights, current


def _error(task, truth, predicted) -> float:
    """The number the blend minimises (plain NumPy: it runs often).

    Numbers: RMSE. Classes: the share of wrong answers, with log loss (how sure the
    model was of the right answer) as a small tie-breaker worth under one point, so
    that an over-cautious but more often right learner is not passed over.
    """
    if is_classification(task):
        chance = np.clip(predicted[np.arange(len(truth)), truth], 1e-7, 1)
        wrong = float((predicted.argmax(axis=1) != truth).mean())
        return wrong + 0.01 * min(float(-np.log(chance).mean()), 0.99)
    return float(np.sqrt(np.mean((predicted - truth) ** 2)))


def _baseline_answer(task, y, classes) -> str:
    if is_classification(task):
        return str(classes[int(np.bincount(y).argmax())])
    return repr(float(np.mean(y)))


def _class_shares(task, y, classes) -> dict:
    if not is_classification(task):
        return {}
    counts = np.bincount(y, minlength=len(classes))
    return {str(c): float(n / len(y)) for c, n in zip(classes, counts)}


def _describe_data(data, frame, target, notes) -> dict:
    import pandas as pd

    fingerprint = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    import hashlib

    return {
        "source": "a DataFrame" if type(data).__name__ == "DataFrame" else str(data),
        "rows": int(len(frame)), "columns": int(frame.shape[1]),
        "fingerprint": hashlib.sha256(fingerprint.tobytes()).hexdigest(),
        "notes": list(notes),
    }
