"""From a folder of images to a trained, evaluated model.

The flow, top to bottom:
1. find the images (one sub-folder per class, or a table of file names) and
   check the classes;
2. choose the network: transfer learning from MobileNetV2 for photos when its
   pretrained weights are available; a small network trained from scratch for
   small grayscale images (digits, letters), when the weights are missing, or
   when you gave your own layers;
3. read the images at the size that network needs (broken files skipped and listed);
4. hold out some images, train within the time budget, score the held-out
   images against always guessing the most common class.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mathless.errors import UserError

MIN_IMAGES = 10
HELD_OUT_SHARE = 0.15
HELD_OUT_MAX = 5000
SCRATCH_SIZE_MAX = 64
TRANSFER_SIZES = (224, 192, 160, 128, 96)
TRANSFER_HEAD = ["mobilenet_v2", "globalpool", "dropout 0.2"]


def fit_images(data, target=None, layers=None, network=None, time_limit=60, quiet=False, seed=0,
               pretrained=None, fine_tune=False, image_column=None, base_folder=None, checkpoint=None,
               **ignored_table_options):
    """Train an image classifier on ``data``: a folder with one sub-folder per class, or a table of image paths.

    ``layers``/``network``: your own network as layer words (or a YAML file of
    them). ``pretrained``: True/False to force or forbid transfer learning
    (default: use it for photos when the weights are available). ``fine_tune``:
    also adjust the pretrained network's last blocks (slower; helps most with
    hundreds of images per class). For a table:
    ``target`` is the class column, ``image_column`` the file-name column (found
    by itself when left out), ``base_folder`` what relative file names are
    relative to (default: the CSV's folder, or the working folder for a DataFrame).
    ``checkpoint``: a folder where the best model so far is saved every 30 s or
    so while training (a loadable model folder, so a crash loses little); it is
    removed when training ends normally.
    """
    from rich.console import Console

    from mathless.evaluation.metrics import score
    from mathless.evaluation.verdict import print_verdict
    from mathless.images import read
    from mathless.images.model import ImageModel
    from mathless.learners.budget import Budget
    from mathless.networks.layers import parse_layers, print_shape_table

    if not time_limit or float(time_limit) <= 0:
        raise UserError(f"The time budget must be a positive number of seconds (got {time_limit}).")
    console = Console(stderr=True, quiet=quiet, highlight=False)
    words = parse_layers(network if network is not None else layers) if (layers or network) else None
    listing, source, target_name = _find_images(data, target, image_column, base_folder)
    classes = _sorted_labels(set(listing.labels))
    _check_classes(listing, classes, source)

    grey, side = read.looks_grey_and_small(listing.files)
    approach, reason, state = _choose(words, grey, side, pretrained)
    if approach != "transfer":
        size, channels = int(np.clip(side, 8, SCRATCH_SIZE_MAX)), 1 if grey else 3
        from mathless.networks.layers import build_network

        build_network(words or default_words(size), (channels, size, size), len(classes))  # mistakes show before reading
    budget = Budget(float(time_limit), quiet)
    notes: list = []
    with budget:
        if approach == "transfer":
            (size, slow), channels = _transfer_size(len(listing.files), budget, state), 3
            if slow:
                notes.append(slow)
        budget.step("reading images", f"{len(listing.files):,} files")
        images, labels, files = read.read_images(listing, channels, size)
        note = read.skipped_note(listing)
        if note:
            notes.append(note)
        counts = {c: labels.count(c) for c in classes}
        _check_after_reading(counts, source, notes)
        y = np.array([classes.index(label) for label in labels])
        train_rows, held_rows = _split(y, seed)
        console.print(
            f"Learning to tell apart {len(classes)} classes from {len(images):,} images in {source} "
            f"({', '.join(f'{c}: {n:,}' for c, n in list(counts.items())[:8])}{' …' if len(counts) > 8 else ''})."
        )
        for line in notes:
            console.print(f"Note: {line}")
        console.print(f"Network: {_title(approach)}, because {reason}.")
        save_checkpoint = _checkpoint_writer(checkpoint, classes, (channels, size), approach, reason, target_name,
                                             y[train_rows], source, len(images), time_limit)
        if approach == "transfer":
            module, prepare, trained, held_probabilities, words, training_chances = _fit_transfer(
                images, y, train_rows, held_rows, classes, words or TRANSFER_HEAD, state, budget, seed, fine_tune,
                save_checkpoint)
        else:
            if words is None:
                words = default_words(size)
            module, prepare, trained, held_probabilities, training_chances = _fit_scratch(
                images, y, train_rows, held_rows, classes, words, grey, budget, seed, save_checkpoint)
    notes.extend(trained.notes)
    from mathless.images.insights import gather

    insights = gather(module, prepare, images, y, train_rows, held_rows, held_probabilities, training_chances, trained,
                      classes, [listing.name_of(f) for f in files], seconds=min(8.0, 1.0 + 0.05 * float(time_limit)))
    y_held = y[held_rows]
    metrics = score("one-of-many", y_held, held_probabilities)
    shares = np.bincount(y[train_rows], minlength=len(classes)) / len(train_rows)
    baseline = score("one-of-many", y_held, np.tile(shares, (len(y_held), 1)))
    from mathless.networks.layers import build_network, words_of

    words = words_of(words)
    _, rows = build_network(words, (channels, size, size), len(classes))
    model = ImageModel(
        classes=classes, words=words, input_shape=(channels, size, size), prepare=prepare, module=module,
        approach=approach, approach_reason=reason, metrics=metrics, baseline=baseline, target=target_name,
        evaluation={
            "method": f"a held-out {len(held_rows) / len(y) * 100:.0f}% of images", "rows": int(len(held_rows)),
            "baseline_answer": classes[int(np.argmax(shares))],
            "class_shares": {c: float(s) for c, s in zip(classes, shares)},
            "leaderboard": {approach: dict(metrics)}, "weights": {approach: 1.0},
            "seconds": round(budget.elapsed(), 1), "time_limit": float(time_limit),
            "training": trained.as_dict(),
        },
        data={"source": source, "rows": int(len(images)), "classes": counts,
              "skipped": [[listing.name_of(p), why] for p, why in listing.skipped], "notes": notes},
        insights=insights,
    )
    if checkpoint is not None and (Path(checkpoint) / "manifest.json").exists():
        import shutil

        shutil.rmtree(checkpoint, ignore_errors=True)
    if not quiet:
        print_shape_table(rows, console)
        print_verdict(console, model, title=f"How good is it? ({model.evaluation['method']}, {len(held_rows):,} images)")
        console.print(f"  Trained for {trained.passes:.1f} passes over the images in {trained.seconds:.0f} s; "
                      f"stopped because {trained.stopped}.")
        for line in trained.notes:
            console.print(f"  {line}")
    return model


# ---- the images and their classes ---------------------------------------------------

def _find_images(data, target, image_column, base_folder=None):
    from mathless.images import read

    if type(data).__name__ == "DataFrame":
        if target is None:
            raise UserError("Say which column holds the class of each image: fit(frame, target='label').")
        return read.scan_table(data, target, image_column, base=base_folder, where="the DataFrame"), "a DataFrame", str(target)
    path = Path(data)
    if path.is_file():
        from mathless.data.read import read_table

        if target is None:
            raise UserError(f"Say which column of '{path}' holds the class of each image, e.g. --target label.")
        frame = read_table(path)
        base = base_folder if base_folder is not None else path.parent
        return read.scan_table(frame, target, image_column, base=base, where=f"'{path}'"), f"'{path}'", str(target)
    return read.scan_class_folder(path), f"'{path}'", "class"


def _sorted_labels(labels) -> list:
    labels = [str(v) for v in labels]
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def _check_classes(listing, classes, source) -> None:
    if len(classes) < 2:
        only = f" ('{classes[0]}')" if classes else ""
        raise UserError(
            f"{source} has images of only one class{only}, so there is nothing to tell apart. "
            f"Add a sub-folder of images for at least one other class."
        )
    if len(listing.files) < MIN_IMAGES:
        raise UserError(f"{source} has only {len(listing.files)} images; at least {MIN_IMAGES} are needed (dozens per class to learn well).")


def _check_after_reading(counts, source, notes) -> None:
    usable = [c for c, n in counts.items() if n > 0]
    if len(usable) < 2:
        raise UserError(
            f"After skipping the files that could not be read, {source} has readable images of "
            f"{'only one class' if usable else 'no class'}. Check the files listed above."
        )
    few = [f"'{c}' ({n})" for c, n in counts.items() if n < 10]
    if few:
        notes.append(
            f"{'these classes have' if len(few) > 1 else 'this class has'} very few images: {', '.join(few[:6])}. "
            f"The model will know little about {'them' if len(few) > 1 else 'it'}; 20 or more images per class work much better"
        )


def _split(y, seed):
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    held = int(np.clip(round(len(y) * HELD_OUT_SHARE), np.unique(y).size, HELD_OUT_MAX))
    held = min(held, len(y) // 2)
    stratify = y if np.bincount(y).min() >= 2 and held >= np.unique(y).size else None
    train_rows, held_rows = train_test_split(rows, test_size=held, random_state=seed, stratify=stratify)
    return np.sort(train_rows), np.sort(held_rows)


# ---- choosing and training the network ----------------------------------------------

def _title(approach):
    from mathless.images.model import APPROACH_TITLES

    return APPROACH_TITLES[approach]


def _choose(words, grey, side, pretrained):
    """(approach, reason in plain words, pretrained weights or None)."""
    if words is not None:
        if words[0].word == "mobilenet_v2":
            state, why = _weights()
            if state is None:
                raise UserError(why.split("; training")[0] + ". Remove `mobilenet_v2` from your layers to train from scratch.")
            return "transfer", "your layers start with mobilenet_v2", state
        return "yours", "you gave the layers", None
    if pretrained is False:
        return "scratch", "you asked for no pretrained network", None
    if grey and side <= 48 and not pretrained:
        return "scratch", "the images are small and grayscale (like digits or letters), where a small network learns fast and well", None
    state, why = _weights()
    if state is None:
        if pretrained:
            raise UserError(why.split("; training")[0] + ".")
        return "scratch", why.rstrip(".").replace("; training a small network from scratch instead", ""), None
    return "transfer", "a network pretrained on 1.2 million photos needs far fewer images to learn new classes", state


def _weights():
    from mathless.networks.mobilenet import pretrained_weights

    return pretrained_weights()


def default_words(size: int) -> list:
    """A small convolutional network for ``size``×``size`` images: up to four stages of conv + pool, then dense.

    For 28×28 digits this is conv 32, pool, conv 64, pool, conv 128, pool, dense 128:
    cheap enough for several passes over MNIST in a few CPU minutes, and above 99% right.
    """
    words, width, stages = [], 32, 0
    while size >= 4 and stages < 4:
        words += [f"conv {width}", "batchnorm", "pool"]
        size, width, stages = size // 2, width * 2, stages + 1
    return words + ["flatten", "dense 128", "dropout 0.3"]


def _fit_scratch(images, y, train_rows, held_rows, classes, words, grey, budget, seed, save_checkpoint=None):
    import torch

    from mathless.images.insights import training_sample
    from mathless.images.prepare import Prepare, channel_stats
    from mathless.networks.layers import build_network
    from mathless.networks.training import predict_in_batches, train

    torch.manual_seed(seed)
    mean, std = channel_stats(images[train_rows])
    prepare = Prepare(mean, std, augment="small" if grey else "photo")
    module, _ = build_network(words, images.shape[1:], len(classes))
    tensor = torch.from_numpy(images)
    held = tensor[held_rows]
    reserve = 0.05 * budget.seconds + len(images) * 2e-5
    trained = train(module, tensor[train_rows], y[train_rows], held, y[held_rows], budget=budget,
                    deadline=budget.deadline - reserve, prepare=prepare, seed=seed, heavy=True,
                    label="the network",
                    on_best=(lambda scores: save_checkpoint(module, words, prepare, scores)) if save_checkpoint else None)
    probabilities = predict_in_batches(module, held, prepare)
    sample = training_sample(train_rows)
    training_chances = (sample, predict_in_batches(module, tensor[sample], prepare))
    return module.cpu(), prepare, trained, probabilities, training_chances


def _transfer_size(count, budget, state):
    """The largest input size whose feature reading fits in about 40% of the time left."""
    import torch

    from mathless.networks.mobilenet import MobileNetV2Features
    from mathless.networks.training import torch_setup

    torch_setup(heavy=True)
    backbone = MobileNetV2Features()
    backbone.load_imagenet(state)
    backbone.eval()
    with torch.inference_mode():
        probe = torch.zeros(8, 3, 128, 128)
        backbone(probe)
        started = time.monotonic()
        backbone(probe)
        per_image = (time.monotonic() - started) / 8
    for size in TRANSFER_SIZES:
        if count * per_image * (size / 128) ** 2 <= 0.4 * budget.left():
            return size, None
    smallest = TRANSFER_SIZES[-1]
    needed = count * per_image * (smallest / 128) ** 2
    return smallest, (
        f"reading {count:,} images through the pretrained network takes about {needed:.0f} s here, more than the "
        f"{budget.seconds:.0f} s budget allows, so training will take longer than asked. "
        f"Give about {needed * 3:.0f} s (--time) for a better model"
    )


def _fit_transfer(images, y, train_rows, held_rows, classes, words, state, budget, seed, fine_tune=False,
                  save_checkpoint=None):
    """Read every image once through the pretrained network, then train the layers after it on what it sees.

    With ``fine_tune``, the last blocks of the pretrained network are then
    adjusted too, with small steps, on the stored output of the blocks before them.
    """
    import torch
    from torch import nn

    from mathless.images.insights import training_sample
    from mathless.images.prepare import Prepare
    from mathless.networks.layers import build_network
    from mathless.networks.mobilenet import FINE_TUNE_FROM, MEAN, STD
    from mathless.networks.training import device, predict_in_batches, torch_setup, train

    torch_setup(heavy=True)
    torch.manual_seed(seed)
    where = device()
    module, _ = build_network(words, images.shape[1:], len(classes))
    module[0].load_imagenet(state)
    backbone, head = module[0], module[1:]
    early, late = backbone.features[:FINE_TUNE_FROM], backbone.features[FINE_TUNE_FROM:]
    backbone.eval()
    backbone.to(where).to(memory_format=torch.channels_last)
    for parameter in backbone.parameters():
        parameter.requires_grad_(False)
    plain = Prepare(MEAN, STD, augment="none")
    varied = Prepare(MEAN, STD, augment="photo")
    tensor = torch.from_numpy(images)
    as_float = lambda batch, training: batch.float()  # noqa: E731

    def through(part, inputs, prepare, label, source_rows=None):
        parts = []
        with torch.inference_mode():
            for start in range(0, len(inputs if source_rows is None else source_rows), 32):
                budget.step("reading the images with the pretrained network", label)
                if source_rows is None:
                    batch = inputs[start:start + 32].to(where).float()
                else:
                    batch = prepare(tensor[source_rows[start:start + 32]].to(where), prepare is varied)
                parts.append(part(batch).to("cpu", torch.float16))
        return torch.cat(parts)

    started = time.monotonic()
    train_maps = [through(early, None, plain, "training images", train_rows)]
    held_maps = through(early, None, plain, "held-out images", held_rows)
    per_view = time.monotonic() - started
    views = 1
    share = 0.3 if fine_tune else 0.5
    # extra changed copies of the training images, while they fit in a share of the time left
    while views < 4 and (per_view * len(train_rows) / len(images)) < share * budget.left() - 2:
        train_maps.append(through(early, None, varied, f"changed copy {views} of the training images", train_rows))
        views += 1
    train_maps = torch.cat(train_maps)
    answers = np.tile(y[train_rows], views)
    train_features = through(late, train_maps, None, "last blocks")
    held_features = through(late, held_maps, None, "last blocks")
    head_deadline = budget.deadline - 0.5 if not fine_tune else time.monotonic() + 0.35 * budget.left()
    on_best = (lambda scores: save_checkpoint(module, words, plain, scores)) if save_checkpoint else None
    trained = train(head, train_features, answers, held_features, y[held_rows], budget=budget,
                    deadline=head_deadline, prepare=as_float, seed=seed, label="the last layers",
                    batch_size=int(np.clip(len(train_features) // 20, 16, 256)), on_best=on_best)
    if views > 1:
        trained.notes.insert(0, f"The layers after MobileNetV2 also saw {views - 1} randomly changed (mirrored, turned, zoomed) copies of each training image.")
    probabilities = predict_in_batches(head, held_features, as_float)
    sample = training_sample(np.arange(len(train_rows)))  # the first view is the training images unchanged
    training_chances = (train_rows[sample], predict_in_batches(head, train_features[sample], as_float))
    if fine_tune and budget.left() > 3:
        for parameter in late.parameters():
            parameter.requires_grad_(True)
        tail = nn.Sequential(late, head)
        head_before = {k: v.detach().clone() for k, v in head.state_dict().items()}
        before = trained.best.get("loss", float("inf"))
        tuned = train(tail, train_maps, answers, held_maps, y[held_rows], budget=budget, deadline=budget.deadline - 0.5,
                      prepare=as_float, seed=seed, label="the last blocks of MobileNetV2", learning_rate=1e-4,
                      frozen_norms=True, heavy=True, batch_size=int(np.clip(len(train_maps) // 20, 16, 64)),
                      on_best=on_best)
        if tuned.best.get("loss", float("inf")) < before:
            probabilities = predict_in_batches(tail, held_maps, as_float)
            training_chances = (train_rows[sample], predict_in_batches(tail, train_maps[sample], as_float))
            trained.notes.append(
                f"Fine-tuned the last {len(late)} blocks of MobileNetV2 for {tuned.passes:.1f} passes: held-out error "
                f"{before:.3g} -> {tuned.best['loss']:.3g}."
            )
            trained.history.extend(tuned.history)
            trained.best = tuned.best
        else:
            trained.notes.append("Fine-tuning MobileNetV2's last blocks did not help on the held-out images; kept them as they were.")
            _restore_late(late, state, FINE_TUNE_FROM)
            head.load_state_dict(head_before)
    elif fine_tune:
        trained.notes.append("Fine-tuning MobileNetV2's last blocks was asked for, but the time ran out before it "
                             "could start; give a longer --time.")
    for parameter in backbone.parameters():
        parameter.requires_grad_(True)
    module.eval()
    return module.cpu(), plain, trained, probabilities, words, training_chances


def _checkpoint_writer(folder, classes, shape, approach, reason, target_name, y_train, source, images, time_limit):
    """A function that saves the model as it is now into ``folder`` (or None when no checkpoint was asked for)."""
    if folder is None:
        return None
    from mathless.images.model import ImageModel
    from mathless.networks.layers import words_of

    shares = np.bincount(y_train, minlength=len(classes)) / len(y_train)

    def save(module, words, prepare, scores):
        channels, size = shape
        metrics = {"accuracy": scores.get("accuracy", 0.0), "log_loss": scores["loss"]}
        naive = float(-np.log(max(float(shares.max()), 1e-7)))
        model = ImageModel(
            classes=classes, words=words_of(words), input_shape=(channels, size, size), prepare=prepare, module=module,
            approach=approach, approach_reason=reason, metrics=metrics,
            baseline={"accuracy": float(shares.max()), "log_loss": naive}, target=target_name,
            evaluation={"method": "a checkpoint taken during training (held-out images)", "rows": 0,
                        "baseline_answer": classes[int(np.argmax(shares))],
                        "class_shares": {c: float(v) for c, v in zip(classes, shares)},
                        "leaderboard": {approach: metrics}, "weights": {approach: 1.0},
                        "time_limit": float(time_limit), "checkpoint": True, "passes": scores.get("passes")},
            data={"source": source, "rows": int(images), "notes": ["saved during training, before it finished"]},
        )
        model.save(folder, overwrite=True)

    return save


def _restore_late(late, state, start):
    """Put the pretrained weights back into the last blocks (after a fine-tuning that did not help)."""
    import torch

    own = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "features" and int(parts[1]) >= start:
            own[".".join([str(int(parts[1]) - start), *parts[2:]])] = value
    with torch.no_grad():
        late.load_state_dict(own)
