"""A trained table model: predict, evaluate, save and load.

The model is the preparation recipe plus one or more learners, each an average
of its members (one per cross-validation part; the linear learner is refit as one
member on all rows), blended with the weights found on held-out rows.
"""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

import numpy as np

from mathless.errors import UserError
from mathless.evaluation.metrics import is_classification, score
from mathless.learners import linear, network, trees
from mathless.learners.prepare import TablePrep, as_labels, as_numbers

KIND = "table"
WEIGHTS = "weights.safetensors"
ARRAY_LEARNERS = {linear.NAME: linear.Linear, network.NAME: network.Network}


class TableModel:
    def __init__(self, target, task, task_reason, classes, roles, prep, learners, metrics, baseline,
                 evaluation, data, insights=None, created=None, versions=None):
        self.target, self.task, self.task_reason = target, task, task_reason
        self.classes, self.roles, self.prep = list(classes), roles, prep
        self.learners = learners  # [(name, weight, [members])]
        self.metrics, self.baseline, self.evaluation, self.data = metrics, baseline, evaluation, data
        self.insights = insights or {}
        self.created = created or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.versions = versions or _versions()

    # ---- predicting -----------------------------------------------------
    def _raw(self, frame, notes=None):
        design = self.prep.transform(frame)
        if notes is not None:
            notes.extend(design.notes)
        total = None
        for name, weight, members in self.learners:
            if weight <= 0:
                continue
            part = sum(member.predict(design, self.task) for member in members) / len(members)
            total = weight * part if total is None else total + weight * part
        return total

    def _as_frame(self, frame, raw):
        import pandas as pd

        out = pd.DataFrame(index=range(len(frame)))
        for role in self.roles:
            if role["role"] == "id" and role["column"] in frame.columns:
                out[role["column"]] = frame[role["column"]].to_numpy()
        if is_classification(self.task):
            out[f"predicted_{self.target}"] = np.array(self.classes, dtype=object)[raw.argmax(axis=1)]
            for i, label in enumerate(self.classes):
                out[f"probability_{label}"] = np.round(raw[:, i], 4)
        else:
            out[f"predicted_{self.target}"] = raw
        return out

    def _extra_columns_note(self, frame, notes):
        known = {r["column"] for r in self.roles} | {self.target}
        extra = [c for c in frame.columns if c not in known]
        if extra:
            shown = ", ".join(f"'{c}'" for c in extra[:5]) + (" …" if len(extra) > 5 else "")
            notes.append(f"ignored {len(extra)} column{'s' if len(extra) > 1 else ''} the model was not trained on: {shown}")

    def predict(self, data, console=None):
        """A DataFrame with the predicted answer (and the chance of each class) per row."""
        from mathless.data.read import read_table

        notes: list = []
        frame = read_table(data, notes)
        self._extra_columns_note(frame, notes)
        raw = self._raw(frame, notes)
        notes.extend(self._drift_notes(frame))
        _show_notes(console, notes)
        return self._as_frame(frame, raw)

    def _drift_notes(self, frame) -> list:
        from mathless.evaluation.doctor import drift

        return [f"{f['message']} {f['try']}" for f in drift(self.insights.get("profile", {}), frame)]

    def predict_to_file(self, data, out, console=None, chunk_rows: int = 200_000) -> dict:
        """Predict ``data`` piece by piece into the CSV ``out`` (works for files larger than memory)."""
        import os

        from mathless.data.read import iter_table

        out = Path(out)
        notes: list = []
        counts: dict = {}
        rows = 0
        temporary = out.with_name(f".{out.name}.writing")
        try:
            with open(temporary, "w", encoding="utf-8", newline="") as handle:
                for i, chunk in enumerate(iter_table(data, chunk_rows, notes)):
                    if i == 0:
                        if len(chunk) == 0:
                            raise UserError(f"'{data}' has column names but no rows to predict.")
                        self._extra_columns_note(chunk, notes)
                        notes.extend(self._drift_notes(chunk))
                    chunk_notes: list = []
                    predicted = self._as_frame(chunk, self._raw(chunk, chunk_notes))
                    for note in chunk_notes:
                        key, _, count = _split_count(note)
                        counts[key] = counts.get(key, 0) + count
                    predicted.to_csv(handle, index=False, header=(i == 0))
                    rows += len(chunk)
            if rows == 0:
                raise UserError(f"'{data}' has no rows to predict.")
            os.replace(temporary, out)
        finally:
            if temporary.exists():
                temporary.unlink()
        notes.extend(template.replace("{count}", f"{count:,}") for template, count in counts.items())
        _show_notes(console, notes)
        return {"rows": rows, "notes": notes}

    # ---- evaluating -----------------------------------------------------
    def evaluate(self, data, quiet: bool = False) -> dict:
        """Score the model on rows with known answers, against the naive baseline, in plain words."""
        from rich.console import Console

        from mathless.data.read import describe, read_table
        from mathless.evaluation.verdict import print_verdict

        console = Console(stderr=True, quiet=quiet, highlight=False)
        notes: list = []
        frame = read_table(data, notes)
        if self.target not in frame.columns:
            from mathless.errors import did_you_mean

            raise UserError(
                f"{describe(data)} has no '{self.target}' column, so there are no true answers to compare "
                f"with.{did_you_mean(self.target, frame.columns)} Use 'predict' for rows without answers."
            )
        frame = frame.loc[frame[self.target].notna()].reset_index(drop=True)
        if len(frame) == 0:
            raise UserError(f"Every value of '{self.target}' in {describe(data)} is missing; nothing to compare with.")
        raw = self._raw(frame, notes)
        if is_classification(self.task):
            labels = as_labels(frame[self.target])
            index = {c: i for i, c in enumerate(self.classes)}
            unknown = ~labels.isin(self.classes)
            if unknown.any():
                notes.append(f"{int(unknown.sum()):,} rows have an answer the model never saw in training; they count as wrong")
            y = labels.map(index).fillna(-1).to_numpy(dtype=int)
            known = y >= 0
            metrics = score(self.task, y[known], raw[known])
            metrics["accuracy"] = float((raw.argmax(axis=1) == y).mean())
            shares = np.array([self.evaluation["class_shares"][c] for c in self.classes])
            base_raw = np.tile(shares, (len(y), 1))
            baseline = score(self.task, y[known], base_raw[known])
            baseline["accuracy"] = float((base_raw.argmax(axis=1) == y).mean())
        else:
            y, bad = as_numbers(frame[self.target])
            keep = np.isfinite(y)
            metrics = score(self.task, y[keep], raw[keep])
            baseline = score(self.task, y[keep], np.full(int(keep.sum()), float(self.evaluation["baseline_answer"])))
        _show_notes(console, notes)
        result = {"rows": int(len(frame)), "metrics": metrics, "baseline": baseline, "notes": notes}
        if not quiet:
            view = _Evaluated(self, metrics, baseline)
            print_verdict(console, view, title=f"How good is it on {describe(data)}? ({len(frame):,} rows)")
        return result

    # ---- explaining -----------------------------------------------------
    def report(self, html=None, overwrite: bool = False, quiet: bool = False):
        """Print the report (verdict, what mattered, the doctor); with ``html=`` also write the page."""
        from rich.console import Console

        from mathless.evaluation.report import check_page_path, print_report, render_html, write_page

        path = check_page_path(html, overwrite) if html else None  # before the report is printed, not after
        print_report(self, Console(stderr=True, quiet=quiet, highlight=False))
        return write_page(path, render_html(self)) if path else None

    def explain(self, data, row: int = 1, quiet: bool = False) -> dict:
        """Why the model answers what it does for one row (1 = the first data row), and how the network computes it."""
        from rich.console import Console

        from mathless.data.read import describe, read_table
        from mathless.evaluation.explain import contributions, forward_pass, why_in_words

        frame = read_table(data)
        if not 1 <= int(row) <= len(frame):
            raise UserError(f"Row {row} does not exist: {describe(data)} has rows 1 to {len(frame):,}.")
        row_frame = frame.iloc[[int(row) - 1]].reset_index(drop=True)
        missing = [c["name"] for c in self.prep.columns if c["name"] not in row_frame.columns]
        if missing:
            raise UserError(f"{describe(data)} lacks column '{missing[0]}', which the model needs.")
        result = contributions(self, row_frame)
        truth = None
        if self.target in row_frame.columns and row_frame[self.target].notna().iloc[0]:
            truth = row_frame[self.target].iloc[0]
        why = why_in_words(self, result)
        how = forward_pass(self, row_frame, truth=truth)
        console = Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)
        console.print(f"[bold]Row {row} of {describe(data)}[/bold]" + (f" (true answer: {truth})" if truth is not None else ""))
        console.print("\n".join(why), markup=False)
        console.print("\n[bold]What the network computes on this row[/bold]")
        console.print("\n".join(how), markup=False)
        return {"row": int(row), "why": why, "network": how, **{k: v for k, v in result.items() if k != "values"}}

    # ---- storing --------------------------------------------------------
    def manifest(self) -> dict:
        return {
            "kind": KIND,
            "target": self.target, "task": self.task, "task_reason": self.task_reason,
            "classes": self.classes, "roles": self.roles, "prep": self.prep.to_dict(),
            "learners": [
                {"name": name, "weight": weight, "members": len(members),
                 "meta": [m.meta() for m in members] if name in ARRAY_LEARNERS else []}
                for name, weight, members in self.learners
            ],
            "metrics": self.metrics, "baseline": self.baseline, "evaluation": self.evaluation,
            "data": self.data, "insights": self.insights, "findings": self.findings(),
            "created": self.created, "versions": self.versions,
        }

    def findings(self) -> list:
        """The doctor's findings about this model, most serious first (empty when all is well)."""
        from mathless.evaluation.doctor import examine

        return examine(self.task, self.classes, self.metrics, self.baseline, self.insights)

    def save(self, folder, overwrite: bool = False) -> Path:
        """Write the model folder atomically: manifest.json, weights.safetensors, trees-N.txt."""
        from safetensors.numpy import save_file

        from mathless.storage.folder import atomic_folder, write_manifest

        folder = Path(folder)
        with atomic_folder(folder, overwrite) as staging:
            arrays = {}
            for name, _, members in self.learners:
                for i, member in enumerate(members):
                    if name == trees.NAME:
                        (staging / f"trees-{i}.txt").write_text(member.to_text(), encoding="utf-8")
                    else:
                        for key, value in member.arrays().items():
                            arrays[f"{name}.{i}.{key}"] = np.ascontiguousarray(value)
            if arrays:
                save_file(arrays, str(staging / WEIGHTS))
            write_manifest(staging, self.manifest())
        return folder

    @classmethod
    def load(cls, folder) -> "TableModel":
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        from mathless.storage.folder import read_manifest

        folder = Path(folder)
        manifest = read_manifest(folder, expected_kind=KIND)
        try:
            arrays = load_file(str(folder / WEIGHTS)) if (folder / WEIGHTS).exists() else {}
            learners = []
            for entry in manifest["learners"]:
                name, members = entry["name"], []
                for i in range(entry["members"]):
                    if name == trees.NAME:
                        members.append(trees.Trees.from_text((folder / f"trees-{i}.txt").read_text(encoding="utf-8")))
                    else:
                        prefix = f"{name}.{i}."
                        own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
                        members.append(ARRAY_LEARNERS[name].from_arrays(own, entry["meta"][i]))
                learners.append((name, entry["weight"], members))
            return cls(
                target=manifest["target"], task=manifest["task"], task_reason=manifest["task_reason"],
                classes=manifest["classes"], roles=manifest["roles"], prep=TablePrep.from_dict(manifest["prep"]),
                learners=learners, metrics=manifest["metrics"], baseline=manifest["baseline"],
                evaluation=manifest["evaluation"], data=manifest["data"],
                insights=manifest.get("insights", {}), created=manifest["created"],
                versions=manifest["versions"],
            )
        except (KeyError, TypeError, ValueError, IndexError, SafetensorError, OSError) as error:
            raise UserError(
                f"The model folder '{folder}' could not be read ({type(error).__name__}: {error}). "
                f"Train the model again."
            ) from None

    def summary(self) -> dict:
        """The headline facts, for --json and scripts."""
        return {
            "target": self.target, "task": self.task, "classes": self.classes,
            "learners": {name: weight for name, weight, _ in self.learners},
            "metrics": self.metrics, "baseline": self.baseline,
            "evaluation": {k: v for k, v in self.evaluation.items() if k != "class_shares"},
            "roles": self.roles, "data": self.data,
        }

    def __repr__(self) -> str:
        from mathless.evaluation.verdict import headline

        return f"<mathless TableModel predicting '{self.target}' ({self.task}): {headline(self)}>"


class _Evaluated:
    """A model seen through the numbers of a new evaluation, for the verdict printer."""

    def __init__(self, model, metrics, baseline):
        self.target, self.task, self.classes = model.target, model.task, model.classes
        self.evaluation, self.metrics, self.baseline = model.evaluation, metrics, baseline
        self.learners = model.learners


def _versions() -> dict:
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for package in ("mathless", "numpy", "pandas", "scikit-learn", "lightgbm", "torch", "safetensors"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return versions


def _split_count(note: str):
    """'column 'x': 12 cells were …' -> ('column 'x': {count} cells were …', 12) to add up chunks."""
    import re

    match = re.search(r"(\d[\d,]*) cells", note)
    if not match:
        return note, "", 0
    count = int(match.group(1).replace(",", ""))
    return note[: match.start(1)] + "{count}" + note[match.end(1):], "", count


def _show_notes(console, notes) -> None:
    if console is None:
        return
    for note in notes:
        console.print(f"Note: {note}")
