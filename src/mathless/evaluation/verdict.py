"""The verdict in plain words: how good the model is next to a naive guess.

"Right 83 times in 100; always answering 'no' gets 62." The standard numbers
are shown beside it, each with a one-sentence meaning.
"""

from __future__ import annotations

from mathless.evaluation.metrics import MEANINGS, is_classification

LEARNER_TITLES = {
    "trees": "gradient-boosted trees (LightGBM)",
    "linear": "linear model",
    "network": "neural network",
    "blend": "blend of the above",
}
TASK_WORDS = {"yes/no": "a yes/no answer", "one-of-many": "one of several labels", "number": "a number"}


def amount(value: float) -> str:
    """A number as a person would say it: 21.3k, 1.2M, 0.043."""
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.3g}B"
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e4:
        return f"{value / 1e3:.3g}k"
    if size >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _per_hundred(share: float) -> str:
    """83 — or 99.6 when whole numbers would hide the difference near the top."""
    value = share * 100
    return f"{value:.1f}" if 99 < value < 100 else f"{value:.0f}"


def headline(model) -> str:
    """One sentence: the model next to the naive baseline."""
    m, b = model.metrics, model.baseline
    if is_classification(model.task):
        answer = model.evaluation["baseline_answer"]
        return (
            f"right {_per_hundred(m['accuracy'])} times in 100; always answering '{answer}' "
            f"gets {_per_hundred(b['accuracy'])}"
        )
    return (
        f"typically off by {amount(m['mae'])}; always guessing the average "
        f"({amount(float(model.evaluation['baseline_answer']))}) is off by {amount(b['mae'])}"
    )


def judgement(model) -> str:
    """How much of the naive guess's error the model removes, in words."""
    m, b = model.metrics, model.baseline
    if is_classification(model.task):
        room = 1 - b["accuracy"]
        gain = (m["accuracy"] - b["accuracy"]) / room if room > 0 else 0.0
        share = f"It gets {gain * 100:.0f}% of the naive guess's mistakes right."
    else:
        gain = m["r2"]
        share = f"It explains {max(gain, 0) * 100:.0f}% of the variation in the answer."
    if gain >= 0.8:
        words = "Very good"
    elif gain >= 0.5:
        words = "Good"
    elif gain >= 0.2:
        words = "Useful, with room to improve"
    elif gain > 0.02:
        words = "Weak: only a little better than guessing"
    else:
        words = "No better than guessing: the inputs may not hold the answer"
    return f"{words}. {share}"


def print_roles(console, roles, target, task, task_reason, rows) -> None:
    from rich.table import Table

    console.print(f"Predicting '{target}' as {TASK_WORDS[task]}: {task_reason}. {rows:,} rows.")
    table = Table(title="How each column is used", title_justify="left", show_edge=False)
    table.add_column("column")
    table.add_column("role")
    table.add_column("why")
    for role in roles:
        used = role.role if role.used else f"{role.role} (ignored)"
        table.add_row(role.column, used, role.reason)
    console.print(table)


def print_verdict(console, model, title: str) -> None:
    from rich.table import Table

    console.print(f"\n{title}")
    line = headline(model)
    console.print(f"  {line[0].upper()}{line[1:]}.")
    console.print(f"  {judgement(model)}")
    weights = {name: weight for name, weight, _ in model.learners if weight > 0}
    used = " + ".join(f"{LEARNER_TITLES.get(n, n)} {w * 100:.0f}%" for n, w in weights.items())
    console.print(f"  Model: {used}.")
    reading = text_reading_line(model.evaluation.get("text_reading"))
    if reading:
        console.print(f"  {reading}")
    table = Table(show_edge=False)
    table.add_column("number")
    table.add_column("model", justify="right")
    table.add_column("naive guess", justify="right")
    table.add_column("what it means")
    for key, value in model.metrics.items():
        base = model.baseline.get(key)
        table.add_row(key, f"{value:.4g}", "" if base is None else f"{base:.4g}", MEANINGS.get(key, ""))
    console.print(table)


def text_reading_line(reading) -> str:
    """How the text columns were read, and why, in one sentence ('' for a table without text)."""
    if not reading or not reading.get("chosen"):
        return ""
    line = f"Text read as {reading['chosen']}"
    scores = reading.get("scores") or {}
    if len(scores) > 1:
        measure = reading.get("measure", "accuracy")
        other = next(k for k in scores if k != reading["chosen"])
        line += (f": a linear model on the text alone scored held-out {measure} {scores[reading['chosen']]:.3f} with it "
                 f"and {scores[other]:.3f} with {other}")
    elif reading.get("why"):
        line += f" ({reading['why']})"
    return line + "."


def print_info(manifest: dict, console) -> None:
    from rich.table import Table

    evaluation = manifest["evaluation"]
    console.print(f"mathless model predicting '{manifest['target']}' ({TASK_WORDS[manifest['task']]}).")
    console.print(f"Trained {manifest['created']} on {manifest['data']['rows']:,} rows from {manifest['data']['source']}.")
    if manifest["classes"]:
        console.print(f"Answers: {', '.join(manifest['classes'][:20])}{' …' if len(manifest['classes']) > 20 else ''}")
    table = Table(title="Learners, scored on held-out rows", title_justify="left", show_edge=False)
    table.add_column("learner")
    table.add_column("share of the answer", justify="right")
    metric_names = list(manifest["metrics"])
    for name in metric_names:
        table.add_column(name, justify="right")
    for name, scores in evaluation["leaderboard"].items():
        weight = evaluation["weights"].get(name)
        table.add_row(LEARNER_TITLES.get(name, name), "" if weight is None else f"{weight * 100:.0f}%",
                      *[f"{scores.get(k, float('nan')):.4g}" for k in metric_names])
    console.print(table)
    roles = Table(title="Columns it needs", title_justify="left", show_edge=False)
    roles.add_column("column")
    roles.add_column("role")
    for role in manifest["roles"]:
        roles.add_row(role["column"], role["role"] if role["role"] in ("number", "category", "yes/no", "date", "text") else f"{role['role']} (ignored)")
    console.print(roles)
    console.print(f"Checked by {evaluation['method']} on {evaluation['rows']:,} rows.")
    reading = text_reading_line(evaluation.get("text_reading"))
    if reading:
        console.print(reading)
    for learner in manifest["learners"]:
        if learner["name"] == "network" and learner["meta"]:
            from mathless.networks.layers import build_network, print_shape_table

            meta = learner["meta"][0]
            _, rows = build_network(meta["words"], (meta["inputs"],), meta["outputs"], meta.get("text_spans"))
            print_shape_table(rows, console, title=f"The neural network ({learner['weight'] * 100:.0f}% of the answer), layer by layer")
