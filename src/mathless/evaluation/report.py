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
from mathless.evaluation.verdict import LEARNER_TITLES, TASK_WORDS, headline, judgement, text_reading_line

ERROR_WORDS = {"log_loss": "log loss (lower is better)", "rmse": "RMSE (lower is better)"}


# ---- terminal ------------------------------------------------------------------

def print_report(model, console) -> None:
    console.print(f"[bold]Report: predicting '{model.target}' ({TASK_WORDS[model.task]})[/bold]")
    console.print(f"Data: {model.data['rows']:,} rows, {len(model.roles)} columns besides the target, from {model.data['source']}.")
    line = headline(model)
    console.print(f"Verdict: {line[0].upper()}{line[1:]}. {judgement(model)}")
    reading = text_reading_line(model.evaluation.get("text_reading"))
    if reading:
        console.print(reading)
    importance = model.insights.get("importance", {})
    if importance:
        top = [name for name, value in importance.items() if value > 0][:3]
        if top:
            console.print(f"What mattered most: {', '.join(repr(t) for t in top)}.")
    _print_per_class(model, console, "rows")
    print_findings(model.findings(), console, "overfitting, underfitting, leakage, class imbalance, too little data, "
                    "duplicates, diverged or stalled training")


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
                    noun = "images" if model.insights.get("kind") == "images" else "rows"
                    axis.plot(curve[part], style, label=f"training {noun}" if part == "training" else f"held-out {noun}")
            axis.set_title(LEARNER_TITLES.get(name, name))
            axis.set_xlabel("trees added" if name == "trees" else "checks during training"
                            if model.insights.get("kind") == "images" else "passes over the data")
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
.gallery { display: flex; flex-wrap: wrap; gap: .8rem; } figure { margin: 0; text-align: center; font-size: .85rem; }
"""


def _table(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<div class='wide'><table><tr>{head}</tr>{body}</table></div>"


def page_start(title: str, heading: str) -> list:
    """The first lines of a report page: its title, the style sheet, the main heading."""
    e = html.escape
    return ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>mathless report: {e(title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>{e(heading)}</h1>"]


def doctor_html(findings, checked: str) -> list:
    """The doctor's section: one box per finding with what to try, or the list of checks that found nothing."""
    e = html.escape
    parts = ["<h2>The doctor</h2>"]
    for f in findings:
        parts.append(f"<div class='finding'><b>{e(f['check'].capitalize())}.</b> {e(f['message'])}<br><i>Try:</i> {e(f['try'])}</div>")
    if not findings:
        parts.append(f"<div class='ok'>Nothing wrong found. Checked: {e(checked)}.</div>")
    return parts


def _verdict_html(model) -> list:
    """The verdict sentence and the table of numbers next to the naive guess."""
    line = headline(model)
    reading = text_reading_line(model.evaluation.get("text_reading"))
    return [
        f"<p class='verdict'><b>{html.escape(line[0].upper() + line[1:])}.</b> {html.escape(judgement(model))}</p>",
        *([f"<p>{html.escape(reading)}</p>"] if reading else []),
        _table(["number", "model", "naive guess", "what it means"],
               [[k, f"{v:.4g}", f"{model.baseline.get(k, float('nan')):.4g}", MEANINGS.get(k, "")] for k, v in model.metrics.items()]),
    ]


def render_html(model) -> str:
    e = html.escape
    plots = _plots(model)
    profile = model.insights.get("profile", {})
    parts = page_start(model.target, f"Predicting '{model.target}' ({TASK_WORDS[model.task]})") + [
        f"<p class='muted'>Trained {e(model.created)} on {model.data['rows']:,} rows from {e(model.data['source'])}; "
        f"checked by {e(model.evaluation['method'])} on {model.evaluation['rows']:,} rows.</p>",
    ]
    parts += _verdict_html(model)
    parts += doctor_html(model.findings(), "overfitting, underfitting, suspected leakage, class imbalance, too little "
                         "data, duplicates across training and held-out rows, diverged or stalled training")
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


def check_page_path(path, overwrite: bool) -> Path:
    """Refuse, before any work, a page path that would overwrite a file unasked or cannot be written."""
    from mathless.errors import UserError

    path = Path(path)
    if path.exists() and path.is_dir():
        raise UserError(f"'{path}' is a folder. Give a file name for the page, such as report.html.")
    if path.exists() and not overwrite:
        raise UserError(f"'{path}' already exists. Choose another name, or add --overwrite to replace it.")
    if not path.parent.is_dir():
        raise UserError(f"The folder '{path.parent}' does not exist. Create it first or choose another place for the page.")
    return path


def write_page(path: Path, page: str) -> Path:
    """Write the page in full beside its place, then move it there: never half a file."""
    import os

    temporary = path.with_name(f".{path.name}.writing")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, path)
    return path


# ---- image models --------------------------------------------------------------

IMAGE_CHECKS = ("overfitting, underfitting, class imbalance, too little data (overall and per class), pictures shared "
                "by training and held-out images, diverged or stalled training")


def print_image_report(model, console) -> None:
    """The terminal half of an image model's report."""
    from mathless.images.insights import where_in_words
    from mathless.images.model import APPROACH_TITLES

    insights = model.insights
    console.print(f"[bold]Report: telling apart {len(model.classes)} classes of images[/bold]")
    console.print(f"Data: {model.data['rows']:,} images from {model.data['source']}; "
                  f"network: {APPROACH_TITLES.get(model.approach, model.approach)}.")
    line = headline(model)
    console.print(f"Verdict: {line[0].upper()}{line[1:]}. {judgement(model)}")
    if insights.get("importance_map"):
        console.print(f"Where it looks: greying out part of a picture hurts most in the "
                      f"{where_in_words(insights['importance_map'])} (averaged over {insights['importance_images']} held-out images).")
    _print_per_class(model, console, "images")
    worst = [w for w in insights.get("worst", []) if w["truth"] != w["predicted"]]
    if worst:
        console.print("Worst mistakes: " + "; ".join(f"{w['file']} is '{w['truth']}', taken for '{w['predicted']}'" for w in worst[:3]) + ".")
    print_findings(model.findings(), console, IMAGE_CHECKS)


def _print_per_class(model, console, noun: str) -> None:
    from rich.table import Table

    per_class = model.insights.get("per_class")
    if not per_class:
        return
    table = Table(title=f"Per answer (held-out {noun})", title_justify="left", show_edge=False)
    for column in ("answer", noun, "found", "right when said"):
        table.add_column(column)
    for label, result in per_class.items():
        table.add_row(label, f"{result['rows']:,}", f"{result['found']:.0%}", f"{result['right_when_said']:.0%}")
    console.print(table)


def print_findings(findings, console, checked: str) -> None:
    if findings:
        console.print("[bold]The doctor found:[/bold]")
        for f in findings:
            console.print(f"- {f['message']}\n  Try: {f['try']}", markup=False)
    else:
        console.print(f"The doctor found nothing wrong (checked: {checked}).", markup=False)


def _image_tag(data: str, alt: str, size: int = 72) -> str:
    return f"<img alt='{html.escape(alt)}' width='{size}' height='{size}' style='image-rendering: pixelated' src='data:image/png;base64,{data}'>"


def _importance_plot(drops) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    drops = np.asarray(drops)
    figure, axis = plt.subplots(figsize=(3.8, 3.4))
    shown = axis.imshow(drops * 100, cmap="Blues", vmin=min(0.0, float(drops.min()) * 100))
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title("Drop in the true class's chance\nwhen this patch is greyed out")
    figure.colorbar(shown, ax=axis, label="points of chance")
    return _png(figure)


def render_image_html(model) -> str:
    """The HTML page for an image model: the same sections as for tables, with pictures for rows."""
    from mathless.images.insights import where_in_words
    from mathless.images.model import APPROACH_TITLES
    from mathless.networks.layers import learns_text

    e = html.escape
    insights = model.insights
    plots = _plots(model)
    classes = f"{len(model.classes)} classes of images"
    parts = page_start(classes, f"Telling apart {classes}") + [
        f"<p class='muted'>Trained {e(model.created)} on {model.data['rows']:,} images from {e(model.data['source'])}; "
        f"checked on {e(model.evaluation['method'])} ({model.evaluation['rows']:,} images).</p>",
    ]
    parts += _verdict_html(model)
    parts += doctor_html(model.findings(), IMAGE_CHECKS)
    parts.append("<h2>The data</h2>")
    examples = insights.get("examples", {})
    counts = model.data.get("classes", {})
    parts.append("<div class='gallery'>" + "".join(
        f"<figure>{_image_tag(examples[c], c) if c in examples else ''}<figcaption>{e(str(c))}: {counts.get(c, 0):,} images"
        f"</figcaption></figure>" for c in model.classes) + "</div>")
    skipped = model.data.get("skipped", [])
    if skipped:
        parts.append(f"<p>{len(skipped):,} files were skipped:</p>")
        parts.append(_table(["file", "why"], skipped[:20]))
    parts.append("<h2>The network</h2>")
    parts.append(f"<p>{e(APPROACH_TITLES.get(model.approach, model.approach))}, because {e(model.approach_reason)}.</p>")
    parts.append(_table(["layer", "output shape", "numbers it learns"],
                        [[r["layer"], r["shape"], learns_text(r) or "0"] for r in model.layer_rows()]))
    if "curves" in plots:
        parts.append("<h2>Learning curves</h2><p>Error on the training images (dashed, as they were changed at random "
                     "while training) and on held-out images (solid), at each check during training. A widening gap "
                     "means memorising.</p>")
        parts.append(f"<img alt='learning curves' src='data:image/png;base64,{plots['curves']}'>")
    if "outcome" in plots:
        parts.append(f"<h2>Right and wrong answers</h2><img alt='right and wrong answers' src='data:image/png;base64,{plots['outcome']}'>")
    per_class = insights.get("per_class")
    if per_class:
        parts.append("<h2>Per answer</h2><p>'Found': share of images of this class the model got. "
                     "'Right when said': share of the model's uses of this answer that were right.</p>")
        parts.append(_table(["answer", "images", "found", "right when said"],
                            [[k, f"{v['rows']:,}", f"{v['found']:.0%}", f"{v['right_when_said']:.0%}"] for k, v in per_class.items()]))
    if insights.get("importance_map"):
        parts.append("<h2>What mattered most</h2>")
        parts.append(f"<p>Each of the {len(insights['importance_map']) ** 2} patches of a picture was greyed out in turn "
                     f"(filled with the picture's average colour), on {insights['importance_images']} held-out images. "
                     f"The darker a patch, the more the chance of the right class fell without it: the model relies most "
                     f"on the {e(where_in_words(insights['importance_map']))}.</p>")
        parts.append(f"<img alt='what mattered most' src='data:image/png;base64,{_importance_plot(insights['importance_map'])}'>")
    worst = insights.get("worst", [])
    if worst:
        parts.append("<h2>The worst mistakes</h2>")
        parts.append("<div class='wide'><table><tr><th>picture</th><th>file</th><th>true class</th><th>model said</th><th>how wrong</th></tr>" + "".join(
            f"<tr><td>{_image_tag(w['thumbnail'], w['file'])}</td><td>{e(w['file'])}</td><td>{e(w['truth'])}</td>"
            f"<td>{e(w['predicted'])}</td><td>{e(w['detail'])}</td></tr>" for w in worst) + "</table></div>")
    notes = model.data.get("notes", [])
    if notes:
        parts.append("<h2>Notes from training</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    parts.append("<p class='muted'>Made by mathless.</p></body></html>")
    return "\n".join(parts)
