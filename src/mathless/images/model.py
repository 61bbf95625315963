"""A trained image model: predict, evaluate, save and load — the same shape as a table model.

The model folder holds the layer words, the input shape and the class names in
``manifest.json`` and the weights in ``weights.safetensors``; loading rebuilds
the network from the words and never runs code from the folder.
"""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

import numpy as np

from mathless.errors import UserError

KIND = "image"
WEIGHTS = "weights.safetensors"
TASK = "one-of-many"
APPROACH_TITLES = {
    "transfer": "MobileNetV2 pretrained on ImageNet, with the layers after it trained on your images (transfer learning)",
    "scratch": "a small convolutional network trained from scratch",
    "yours": "your own network, trained from scratch",
}


class ImageModel:
    def __init__(self, classes, words, input_shape, prepare, module, approach, approach_reason, metrics,
                 baseline, evaluation, data, target="class", created=None, versions=None, insights=None):
        self.classes, self.words, self.input_shape = list(classes), list(words), tuple(input_shape)
        self.prepare, self.module = prepare, module
        self.approach, self.approach_reason = approach, approach_reason
        self.metrics, self.baseline, self.evaluation, self.data = metrics, baseline, evaluation, data
        self.target, self.task = target, TASK
        self.insights = insights or {}
        self.last_drift, self.last_notes = [], []  # what the latest predict noticed about its pictures
        self.created = created or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.versions = versions or _versions()

    @property
    def learners(self):
        """For the shared verdict printer: one learner, the whole answer."""
        return [(APPROACH_TITLES.get(self.approach, self.approach), 1.0, None)]

    @property
    def channels(self) -> int:
        return self.input_shape[0]

    @property
    def size(self) -> int:
        return self.input_shape[1]

    # ---- predicting -----------------------------------------------------
    def _probabilities(self, listing, chunk: int = 1024):
        """Class chances for every readable listed image, read a chunk at a time so any number of files fits in memory."""
        import torch

        from mathless.images.insights import drift, picture_stats
        from mathless.images.read import ImageList, read_images
        from mathless.networks.training import device, predict_in_batches, torch_setup

        torch_setup(heavy=True)
        self.module.to(device()).to(memory_format=torch.channels_last)
        parts, labels, files, stats = [], [], [], {"brightness": [], "contrast": []}
        for start in range(0, len(listing.files), chunk):
            part = ImageList(listing.files[start:start + chunk], listing.labels[start:start + chunk], listing.skipped, listing.root)
            images, part_labels, part_files = read_images(part, self.channels, self.size)
            if len(images):
                parts.append(predict_in_batches(self.module, torch.from_numpy(images), self.prepare, batch_size=64))
                for name, values in picture_stats(images).items():
                    stats[name].extend(values.tolist())
            labels.extend(part_labels)
            files.extend(part_files)
        probabilities = np.concatenate(parts) if parts else np.zeros((0, len(self.classes)))
        self.last_drift = drift(self.insights.get("profile", {}), stats)
        return probabilities, labels, files

    def predict(self, data, console=None):
        """A DataFrame: each image file, the predicted class, and how sure the model is (0-1)."""
        import pandas as pd

        from mathless.images.read import skipped_note

        listing = _listing_for(data, target=None)
        probabilities, _, files = self._probabilities(listing)
        notes = [n for n in [skipped_note(listing)] if n] + [f"{f['message']} {f['try']}" for f in self.last_drift]
        _show_notes(console, notes)
        self.last_notes = notes
        if len(files) == 0:
            raise UserError(f"None of the images in {_where(data)} could be read; see the note above for why.")
        chosen = probabilities.argmax(axis=1)
        return pd.DataFrame({
            "file": [listing.name_of(f) for f in files],
            f"predicted_{self.target}": np.array(self.classes, dtype=object)[chosen],
            "confidence": np.round(probabilities.max(axis=1), 4),
        })

    def predict_to_file(self, data, out, console=None) -> dict:
        """Write the predictions to the CSV ``out`` (written in full, then moved into place)."""
        import os

        out = Path(out)
        frame = self.predict(data, console=console)
        temporary = out.with_name(f".{out.name}.writing")
        try:
            frame.to_csv(temporary, index=False)
            os.replace(temporary, out)
        finally:
            if temporary.exists():
                temporary.unlink()
        return {"rows": int(len(frame)), "notes": list(self.last_notes)}

    # ---- evaluating -----------------------------------------------------
    def evaluate(self, data, quiet: bool = False) -> dict:
        """Score the model on images with known classes (a folder with one sub-folder per class)."""
        from rich.console import Console

        from mathless.evaluation.metrics import score
        from mathless.evaluation.verdict import print_verdict
        from mathless.images.read import skipped_note

        console = Console(stderr=True, quiet=quiet, highlight=False)
        listing = _listing_for(data, target=self.target if not _is_folder(data) else None, for_truth=True)
        probabilities, labels, files = self._probabilities(listing)
        notes = [n for n in [skipped_note(listing)] if n] + [f"{f['message']} {f['try']}" for f in self.last_drift]
        if len(files) == 0:
            raise UserError(f"None of the images in {_where(data)} could be read; nothing to score.")
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.array([index.get(str(label), -1) for label in labels])
        unknown = sorted({str(label) for label in labels if str(label) not in index})
        if unknown:
            notes.append(
                f"{int((y < 0).sum()):,} images are in classes the model never saw in training "
                f"({', '.join(unknown[:5])}); they count as wrong"
            )
        known = y >= 0
        chosen = probabilities.argmax(axis=1)
        metrics = score(TASK, y[known], probabilities[known]) if known.any() else {}
        metrics["accuracy"] = float((chosen == y).mean())
        shares = np.array([self.evaluation["class_shares"][c] for c in self.classes])
        base = np.tile(shares, (len(y), 1))
        baseline = score(TASK, y[known], base[known]) if known.any() else {}
        baseline["accuracy"] = float((base.argmax(axis=1) == y).mean())
        mix_ups = _mix_ups(y, chosen, self.classes)
        _show_notes(console, notes)
        result = {"rows": int(len(y)), "metrics": metrics, "baseline": baseline, "notes": notes, "mix_ups": mix_ups}
        if not quiet:
            view = _Evaluated(self, metrics, baseline)
            print_verdict(console, view, title=f"How good is it on {_where(data)}? ({len(y):,} images)")
            if mix_ups:
                console.print("  Most often mixed up: " + "; ".join(
                    f"'{m['truth']}' taken for '{m['predicted']}' {m['times']} time{'s' if m['times'] > 1 else ''}" for m in mix_ups[:3]) + ".")
        return result

    # ---- explaining -----------------------------------------------------
    def findings(self) -> list:
        """The doctor's findings about this model, most serious first (empty when all is well)."""
        from mathless.evaluation.doctor import examine

        if not self.insights:
            return []  # saved during training, before the evidence was gathered
        return examine(self.task, self.classes, self.metrics, self.baseline, self.insights)

    def report(self, html=None, overwrite: bool = False, quiet: bool = False):
        """Print the report (verdict, per class, where it looks, the doctor); with ``html=`` also write the page."""
        from rich.console import Console

        from mathless.evaluation.report import check_page_path, print_image_report, render_image_html, write_page

        path = check_page_path(html, overwrite) if html else None  # before the report is printed, not after
        print_image_report(self, Console(stderr=True, quiet=quiet, highlight=False))
        return write_page(path, render_image_html(self)) if path else None

    def explain(self, data, row: int = 1, quiet: bool = False) -> dict:
        """Why the model answers what it does for one picture (``row`` = its number in name order), and the network's arithmetic on it."""
        from rich.console import Console

        from mathless.images.explain import explain_image

        result = explain_image(self, data, row=int(row))
        console = Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)
        truth = f" (true class: {result['truth']})" if result["truth"] is not None else ""
        console.print(f"[bold]Image {row}: {result['file']}[/bold]{truth}", markup=True)
        console.print("\n".join(result["why"]), markup=False)
        console.print("\n[bold]What the network computes on this picture[/bold]")
        console.print("\n".join(result["network"]), markup=False)
        return result

    # ---- storing --------------------------------------------------------
    def manifest(self) -> dict:
        return {
            "kind": KIND, "target": self.target, "task": self.task, "classes": self.classes,
            "network": {"words": self.words, "input_shape": list(self.input_shape), "outputs": len(self.classes)},
            "prepare": self.prepare.to_dict(),
            "approach": self.approach, "approach_reason": self.approach_reason,
            "metrics": self.metrics, "baseline": self.baseline, "evaluation": self.evaluation,
            "roles": [], "data": self.data, "created": self.created, "versions": self.versions,
            "insights": self.insights,
        }

    def save(self, folder, overwrite: bool = False) -> Path:
        """Write the model folder atomically: manifest.json and weights.safetensors."""
        from safetensors.torch import save_file

        from mathless.storage.folder import atomic_folder, write_manifest

        folder = Path(folder)
        with atomic_folder(folder, overwrite) as staging:
            state = {k: v.detach().cpu().contiguous() for k, v in self.module.state_dict().items()}
            save_file(state, str(staging / WEIGHTS))
            write_manifest(staging, self.manifest())
        return folder

    @classmethod
    def load(cls, folder) -> "ImageModel":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from mathless.images.prepare import Prepare
        from mathless.networks.layers import build_network
        from mathless.storage.folder import read_manifest

        folder = Path(folder)
        manifest = read_manifest(folder, expected_kind=KIND)
        try:
            network = manifest["network"]
            module, _ = build_network(network["words"], tuple(network["input_shape"]), int(network["outputs"]))
            module.load_state_dict(load_file(str(folder / WEIGHTS)))
            module.eval()
            return cls(
                classes=manifest["classes"], words=network["words"], input_shape=network["input_shape"],
                prepare=Prepare.from_dict(manifest["prepare"]), module=module, approach=manifest["approach"],
                approach_reason=manifest["approach_reason"], metrics=manifest["metrics"],
                baseline=manifest["baseline"], evaluation=manifest["evaluation"], data=manifest["data"],
                target=manifest.get("target", "class"), created=manifest["created"], versions=manifest["versions"],
                insights=manifest.get("insights", {}),
            )
        except UserError as error:
            raise UserError(f"The model folder '{folder}' describes a network this version cannot build: {error}") from None
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError, SafetensorError, OSError) as error:
            raise UserError(
                f"The model folder '{folder}' could not be read ({type(error).__name__}: {str(error)[:200]}). "
                f"Train the model again."
            ) from None

    def summary(self) -> dict:
        """The headline facts, for --json and scripts."""
        return {
            "kind": KIND, "target": self.target, "task": self.task, "classes": self.classes,
            "approach": self.approach, "approach_reason": self.approach_reason,
            "network": {"words": self.words, "input_shape": list(self.input_shape)},
            "metrics": self.metrics, "baseline": self.baseline,
            "evaluation": {k: v for k, v in self.evaluation.items() if k not in ("class_shares", "training")},
            "training": {k: v for k, v in self.evaluation.get("training", {}).items() if k != "history"},
            "data": self.data,
        }

    def layer_rows(self):
        from mathless.networks.layers import build_network

        return build_network(self.words, self.input_shape, len(self.classes))[1]

    def print_info(self, console) -> None:
        print_image_info(self.manifest(), console)

    def __repr__(self) -> str:
        from mathless.evaluation.verdict import headline

        return f"<mathless ImageModel telling apart {len(self.classes)} classes ({self.approach}): {headline(self)}>"


def print_image_info(manifest: dict, console) -> None:
    """``mathless info`` for an image model: classes, how it was trained, the network layer by layer."""
    from mathless.networks.layers import build_network, print_shape_table

    evaluation, data = manifest["evaluation"], manifest["data"]
    classes = manifest["classes"]
    console.print(f"mathless image model telling apart {len(classes)} classes: {', '.join(classes[:20])}{' …' if len(classes) > 20 else ''}.")
    console.print(f"Trained {manifest['created']} on {data['rows']:,} images from {data['source']}.")
    console.print(f"Network: {APPROACH_TITLES.get(manifest['approach'], manifest['approach'])} ({manifest['approach_reason']}).")
    network = manifest["network"]
    _, rows = build_network(network["words"], tuple(network["input_shape"]), int(network["outputs"]))
    print_shape_table(rows, console)
    for note in evaluation.get("training", {}).get("notes", []):
        if note.startswith("Fine-tun"):  # the pretrained part was adjusted after all (or tried and put back)
            console.print(note)
    metrics = manifest["metrics"]
    console.print(
        f"On {evaluation['rows']:,} held-out images it was right {metrics['accuracy'] * 100:.1f} times in 100; "
        f"always answering '{evaluation['baseline_answer']}' gets {manifest['baseline']['accuracy'] * 100:.1f}."
    )


class _Evaluated:
    def __init__(self, model, metrics, baseline):
        self.target, self.task, self.classes = model.target, model.task, model.classes
        self.evaluation, self.metrics, self.baseline = model.evaluation, metrics, baseline
        self.learners = model.learners


def _mix_ups(y, chosen, classes, top: int = 5) -> list:
    pairs: dict = {}
    for truth, guess in zip(y, chosen):
        if truth >= 0 and truth != guess:
            pairs[(truth, guess)] = pairs.get((truth, guess), 0) + 1
    ranked = sorted(pairs.items(), key=lambda item: -item[1])[:top]
    return [{"truth": classes[t], "predicted": classes[g], "times": n} for (t, g), n in ranked]


def _is_folder(data) -> bool:
    return isinstance(data, (str, Path)) and Path(data).is_dir()


def _where(data) -> str:
    if type(data).__name__ == "DataFrame":
        return "the DataFrame"
    if isinstance(data, (list, tuple)):
        return f"the {len(data)} files given"
    return f"'{data}'"


def _listing_for(data, target=None, for_truth: bool = False):
    """The images to predict or score: folder, image file, list of files, DataFrame or CSV of paths."""
    from mathless.images import read

    if type(data).__name__ == "DataFrame":
        return read.scan_table(data, target=target if for_truth else None, where="the DataFrame")
    if isinstance(data, (str, Path)) and not Path(data).exists():
        raise UserError(f"'{data}' does not exist. Give a folder of images{' with one sub-folder per class' if for_truth else ', or an image file'}.")
    if isinstance(data, (str, Path)) and Path(data).is_file() and Path(data).suffix.lower() not in read.IMAGE_SUFFIXES:
        from mathless.data.read import read_table

        frame = read_table(data)
        return read.scan_table(frame, target=target if for_truth else None, base=Path(data).parent, where=f"'{data}'")
    if for_truth:
        if not _is_folder(data):
            raise UserError(
                f"To score the model, give a folder with one sub-folder per class (like the training folder), "
                f"not {_where(data)}. Use 'predict' for images without answers."
            )
        return read.scan_class_folder(data)
    return read.scan_for_prediction(data)


def _show_notes(console, notes) -> None:
    if console is None:
        return
    for note in notes:
        console.print(f"Note: {note}")


def _versions() -> dict:
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for package in ("mathless", "numpy", "torch", "safetensors", "pillow"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return versions
