"""The report: a terminal summary and one self-contained HTML page (plots embedded as PNG).

Everything shown comes from the model folder: the verdict, the data and its
roles, learning curves, the confusion matrix or predicted-vs-actual plot,
per-class results, what mattered most, the worst mistakes and the doctor's
findings. The page has no scripts and loads nothing from the network.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from mathless.evaluation.metrics import MEANINGS, is_classification
from mathless.evaluation.verdict import LEARNER_TITLES, TASK_WORDS, headline, judgement

ERROR_WORDS = {"log_loss": "log loss (lower is better)", "rmse": "RMSE (lower is better)"}


# ---- terminal ------------------------------------------------------------------

def print_report(model, console) -> None:
    from rich.table import Table

    console.print(f"[bold]Report: predicting '{model.target}' ({TASK_WORDS[model.task]})[/bold]")
    console.print(f"Data: {model.data['rows']:,} rows, {len(model.roles)} columns besides the target, from {model.data['source']}.")
    line = headline(model)
    console.print(f"Verdict: {line[0].upper()}{line[1:]}. {judgement(model)}")
    importance = model.insights.get("importance", {})
    if importance:
        top = [name for name, value in importance.items() if value > 0][:3]
        if top:
            console.print(f"What mattered most: {', '.join(repr(t) for t in top)}.")
    per_class = model.insights.get("per_class")
    if per_class:
        table = Table(title="Per answer (held-out rows)", title_justify="left", show_edge=False)
        for column in ("answer", "rows", "found", "right when said"):
            table.add_column(column)
        for label, result in per_class.items():
            table.add_row(label, f"{result['rows']:,}", f"{result['found']:.0%}", f"{result['right_when_said']:.0%}")
        console.print(table)
    findings = model.findings()
    if findings:
        console.print("[bold]The doctor found:[/bold]")
        for f in findings:
            console.print(f"- {f['message']}\n  Try: {f['try']}")
    else:
        console.print("The doctor found nothing wrong (checked: overfitting, underfitting, leakage, class imbalance, "
                      "too little data, duplicates, diverged or stalled training).")


# ---- plots ---------------------------------------------------------------------

def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(model) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    plots = {}
    metric = "log loss" if is_classification(model.task) else "RMSE"
    curves = model.insights.get("curves", {})
    if curves:
        figure, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.2), squeeze=False)
        for axis, (name, curve) in zip(axes[0], curves.items()):
            for part, style in (("training", "--"), ("held_out", "-")):
                if curve.get(part):
                    axis.plot(curve[part], style, label="training rows" if part == "training" else "held-out rows")
            axis.set_title(LEARNER_TITLES.get(name, name))
            axis.set_xlabel("trees added" if name == "trees" else "passes over the data")
            axis.set_ylabel(f"error ({metric})")
            axis.legend()
        plots["curves"] = _png(figure)
    if "confusion" in model.insights:
        matrix = np.asarray(model.insights["confusion"])
        size = min(12, 2 + 0.6 * len(model.classes))
        figure, axis = plt.subplots(figsize=(size, size * 0.8))
        axis.imshow(matrix, cmap="Blues")
        axis.set_xticks(range(len(model.classes)), model.classes, rotation=45, ha="right")
        axis.set_yticks(range(len(model.classes)), model.classes)
        axis.set_xlabel("the model said")
        axis.set_ylabel("the true answer")
        for (i, j), count in np.ndenumerate(matrix):
            axis.text(j, i, str(count), ha="center", va="center",
                      color="white" if count > matrix.max() / 2 else "black")
        axis.set_title("Held-out rows: true answer vs what the model said")
        plots["outcome"] = _png(figure)
    elif model.insights.get("pairs"):
        pairs = np.asarray(model.insights["pairs"])
        figure, axis = plt.subplots(figsize=(5, 4.5))
        axis.scatter(pairs[:, 0], pairs[:, 1], s=8, alpha=0.5)
        low, high = pairs.min(), pairs.max()
        axis.plot([low, high], [low, high], "k--", label="perfect")
        axis.set_xlabel(f"true {model.target}")
        axis.set_ylabel(f"predicted {model.target}")
        axis.set_title("Held-out rows: predicted vs actual")
        axis.legend()
        plots["outcome"] = _png(figure)
    importance = model.insights.get("importance", {})
    if importance:
        names = list(importance)[:15][::-1]
        figure, axis = plt.subplots(figsize=(6, 0.35 * len(names) + 1))
        axis.barh(names, [importance[n] for n in names], color="#4a7ab5")
        axis.set_xlabel(f"how much worse the held-out {metric} gets when the column is shuffled")
        axis.set_title("What mattered most")
        plots["importance"] = _png(figure)
    return plots


# ---- HTML ----------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { padding: .2rem .6rem; border-bottom: 1px solid #eee; text-align: left; }
.verdict { font-size: 1.15rem; background: #f3f7fc; padding: .8rem 1rem; border-radius: .4rem; }
.finding { background: #fff6e5; padding: .6rem 1rem; border-left: 4px solid #e0a000; margin: .5rem 0; }
.ok { background: #eef8ee; padding: .6rem 1rem; border-left: 4px solid #3a3; }
img { max-width: 100%; } .muted { color: #666; } .wide { overflow-x: auto; }
"""


def _table(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<div class='wide'><table><tr>{head}</tr>{body}</table></div>"


def render_html(model) -> str:
    e = html.escape
    plots = _plots(model)
    profile = model.insights.get("profile", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>mathless report: {e(model.target)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Predicting '{e(model.target)}' ({e(TASK_WORDS[model.task])})</h1>",
        f"<p class='muted'>Trained {e(model.created)} on {model.data['rows']:,} rows from {e(model.data['source'])}; "
        f"checked by {e(model.evaluation['method'])} on {model.evaluation['rows']:,} rows.</p>",
    ]
    line = headline(model)
    parts.append(f"<p class='verdict'><b>{e(line[0].upper() + line[1:])}.</b> {e(judgement(model))}</p>")
    parts.append(_table(
        ["number", "model", "naive guess", "what it means"],
        [[k, f"{v:.4g}", f"{model.baseline.get(k, float('nan')):.4g}", MEANINGS.get(k, "")] for k, v in model.metrics.items()],
    ))
    findings = model.findings()
    parts.append("<h2>The doctor</h2>")
    if findings:
        for f in findings:
            parts.append(f"<div class='finding'><b>{e(f['check'].capitalize())}.</b> {e(f['message'])}<br><i>Try:</i> {e(f['try'])}</div>")
    else:
        parts.append("<div class='ok'>Nothing wrong found. Checked: overfitting, underfitting, suspected leakage, "
                     "class imbalance, too little data, duplicates across training and held-out rows, diverged or stalled training.</div>")
    parts.append("<h2>The data</h2>")
    parts.append(_table(
        ["column", "role", "why", "missing"],
        [[r["column"], r["role"] if r["role"] in ("number", "category", "yes/no", "date", "text") else f"{r['role']} (ignored)",
          r["reason"], f"{profile[r['column']]['missing']:.0%}" if r["column"] in profile else ""] for r in model.roles],
    ))
    if "curves" in plots:
        parts.append("<h2>Learning curves</h2><p>Error on the rows each learner trained on (dashed) and on held-out rows "
                     "(solid). A widening gap means memorising; both flat and high means the inputs say little.</p>")
        parts.append(f"<img alt='learning curves' src='data:image/png;base64,{plots['curves']}'>")
    if "outcome" in plots:
        title = "Right and wrong answers" if is_classification(model.task) else "Predicted vs actual"
        parts.append(f"<h2>{title}</h2><img alt='{title.lower()}' src='data:image/png;base64,{plots['outcome']}'>")
    per_class = model.insights.get("per_class")
    if per_class:
        parts.append("<h2>Per answer</h2><p>'Found': share of rows with this answer the model got. "
                     "'Right when said': share of the model's uses of this answer that were right.</p>")
        parts.append(_table(["answer", "rows", "found", "right when said"],
                            [[k, f"{v['rows']:,}", f"{v['found']:.0%}", f"{v['right_when_said']:.0%}"] for k, v in per_class.items()]))
    if "importance" in plots:
        parts.append("<h2>What mattered most</h2><p>Each column's values were shuffled on held-out rows; the more the error "
                     "grows, the more the model relies on that column.</p>")
        parts.append(f"<img alt='what mattered most' src='data:image/png;base64,{plots['importance']}'>")
    worst = model.insights.get("worst", [])
    if worst:
        parts.append("<h2>The worst mistakes</h2>")
        columns = list(worst[0]["values"])[:12]
        parts.append(_table(
            ["row", "true answer", "model said", "how wrong", *columns],
            [[w["row"], w["truth"], w["predicted"], w["detail"], *[w["values"].get(c, "") for c in columns]] for w in worst],
        ))
    leaderboard = model.evaluation.get("leaderboard", {})
    if leaderboard:
        names = list(model.metrics)
        parts.append("<h2>Learners</h2>")
        parts.append(_table(
            ["learner", "share of the answer", *names],
            [[LEARNER_TITLES.get(n, n), f"{model.evaluation['weights'].get(n, 0) * 100:.0f}%" if n != "blend" else "",
              *[f"{s.get(k, float('nan')):.4g}" for k in names]] for n, s in leaderboard.items()],
        ))
    parts.append("<p class='muted'>Made by mathless.</p></body></html>")
    return "\n".join(parts)


def write_html(model, path, overwrite: bool = False) -> Path:
    import os

    from mathless.errors import UserError

    path = Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"'{path}' already exists. Choose another name, or add --overwrite to replace it.")
    temporary = path.with_name(f".{path.name}.writing")
    temporary.write_text(render_html(model), encoding="utf-8")
    os.replace(temporary, path)
    return path
