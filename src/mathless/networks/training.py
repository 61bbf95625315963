"""The one training loop every neural learner uses: no knobs to set.

Training a network means: show it a batch of examples, measure how wrong it
is (the *loss*), nudge every weight a small step in the direction that makes it
less wrong, and repeat. This loop takes care of the choices that usually need
an expert:

- **Step size** ("learning rate"): found by a short trial that tries ever larger
  steps and watches where the error falls fastest (a learning-rate range test);
  then the step rises and falls once over the training time (one cycle). When
  there is no time for the trial (a table's five cross-validation parts on a
  short budget), the usual 0.001 is used, unchanged.
- **When to stop**: the examples held out of training are scored after each pass
  over the data; the weights that did best there are kept, and training stops
  when they stop improving, or when the time is up.
- **Blow-ups**: if the error becomes NaN or explodes, training goes back to the
  best weights so far and carries on with a ten times smaller step (and says so).
- **Ctrl-C**: stops training and keeps the best model so far.
- **Speed**: a GPU is used when there is one; on a CPU at most as many threads
  as cores, so other work on the machine does not stall it.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

MAX_RETRIES = 4
MIN_SECONDS = 3.0  # train at least this long, even when the budget ran out before training began


@dataclass
class Trained:
    """What happened in training, for the verdict and the model folder."""

    learning_rate: float
    passes: float = 0.0
    seconds: float = 0.0
    stopped: str = ""
    examples_per_second: float = 0.0
    best: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "learning_rate": self.learning_rate, "passes": round(self.passes, 2), "seconds": round(self.seconds, 1),
            "stopped": self.stopped, "examples_per_second": round(self.examples_per_second, 1),
            "best": self.best, "history": self.history, "notes": self.notes,
        }


def torch_setup(heavy: bool = False):
    """PyTorch with a thread count that cannot stall: one for small work, the idle cores for heavy work.

    On a 2-core machine that was busy with another program, 2 PyTorch threads made
    small training steps 5-200 times slower than 1 thread (each step waits for the
    slower thread). ``MATHLESS_THREADS`` overrides the choice.
    """
    import torch

    from mathless.machine import cores as usable_cores

    cores = usable_cores()
    if os.environ.get("MATHLESS_THREADS"):
        wanted = int(os.environ["MATHLESS_THREADS"])
    elif heavy:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):
            busy = 0.0
        wanted = int(cores - busy + 0.5)
    else:
        wanted = 1
    wanted = max(1, min(wanted, cores))
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return torch


def device():
    torch = torch_setup()
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _as_float(batch, training: bool = False):
    return batch.float()


class Rows:
    """Table rows (a NumPy array or a SciPy sparse matrix) as the loop's inputs.

    A batch becomes a float tensor only when it is asked for, so text word counts
    (tens of thousands of mostly-zero columns) stay sparse in memory.
    """

    def __init__(self, matrix):
        self.matrix = matrix

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def dim(self) -> int:
        return 2

    def __getitem__(self, index):
        import torch

        if torch.is_tensor(index):
            index = index.numpy()
        part = self.matrix[index]
        part = part.toarray() if hasattr(part, "toarray") else np.asarray(part)
        return torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32))


def _adamw(torch, trainable, groups, learning_rate: float, weight_decay: float):
    """AdamW over the trainable weights; ``groups`` may give some of them a multiple of the step size."""
    groups = [dict(g) for g in (groups or []) if g["params"]]
    special = {id(p) for g in groups for p in g["params"]}
    rest = [p for p in trainable if id(p) not in special]
    param_groups = ([{"params": rest, "scale": 1.0}] if rest else []) + [
        {"params": g["params"], "scale": g.get("scale", 1.0), "weight_decay": g.get("weight_decay", weight_decay)}
        for g in groups]
    optimizer = torch.optim.AdamW(param_groups, lr=learning_rate, weight_decay=weight_decay)
    _set_step(optimizer, learning_rate)
    return optimizer


def _set_step(optimizer, learning_rate: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = learning_rate * group.get("scale", 1.0)


def predict_in_batches(module, inputs, prepare=None, batch_size: int = 256, task: str = "one-of-many"):
    """Run the module over ``inputs`` (a CPU tensor) in batches; class chances (or numbers) as NumPy."""
    import torch

    prepare = prepare or _as_float
    where = next(module.parameters()).device
    module.eval()
    parts = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            out = module(prepare(inputs[start:start + batch_size].to(where), False))
            parts.append((out[:, 0] if task == "number" else torch.softmax(out.float(), dim=1)).cpu().numpy())
    if not parts:
        return np.zeros((0,)) if task == "number" else np.zeros((0, 0))
    return np.concatenate(parts)


def _held_out_scores(module, inputs, answers, prepare, task) -> dict:
    predicted = predict_in_batches(module, inputs, prepare, task=task)
    answers = np.asarray(answers)
    if task == "number":
        return {"loss": float(np.mean((predicted - answers) ** 2))}
    chosen = predicted[np.arange(len(answers)), answers.astype(int)]
    return {"loss": float(-np.mean(np.log(np.clip(chosen, 1e-7, 1)))),
            "accuracy": float((predicted.argmax(axis=1) == answers).mean())}


def _step_size(progress: float, peak: float, full_cycle: bool = True) -> float:
    """The step size over training.

    A step found by the trial sits near the edge of what training tolerates: it rises from
    peak/25 to the peak in the first quarter, then eases to almost 0 (one cycle). The usual
    0.001, used when there is no time for the trial, is safe from the first step and is kept
    as it is: so short a training is far from settled, and easing off would only slow it.
    """
    if not full_cycle:
        return peak
    if progress < 0.25:
        start = peak / 25
        return start + (peak - start) * progress / 0.25
    return peak / 1e4 + (peak - peak / 1e4) * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - 0.25) / 0.75)))


def default_batch_size(rows: int) -> int:
    return int(np.clip(2 ** round(math.log2(max(rows, 1) / 40)), 16, 128))


def train(module, inputs, answers, held_inputs, held_answers, *, task: str = "one-of-many",
          time_limit: float | None = None, deadline: float | None = None, budget=None, prepare=None,
          batch_size: int | None = None, max_passes: int = 200, weight_decay: float = 0.01,
          learning_rate: float | None = None, seed: int = 0, label: str = "neural network",
          quiet: bool = False, heavy: bool = False, frozen_norms: bool = False, on_best=None,
          checkpoint_every: float = 30.0, groups=None, min_seconds: float = MIN_SECONDS) -> Trained:
    """Train ``module`` in place on ``inputs``/``answers``; keep the weights best on the held-out examples.

    ``inputs`` is a CPU tensor (uint8 images, float rows …) and ``prepare(batch,
    training)`` turns a batch of it into the network's float input (scaling,
    and the random changes called augmentation while training). ``task`` is
    "one-of-many"/"yes/no" (answers are class numbers) or "number" (answers are
    floats, ideally scaled to an average of 0 and a spread of 1). Give a time
    limit in seconds, an absolute ``time.monotonic()`` deadline, or a running
    ``Budget`` (which then shows the progress). ``frozen_norms`` keeps every
    batchnorm layer's stored averages as they are (for fine-tuning a pretrained
    network on few images, whose small batches would otherwise overwrite them).
    ``on_best(scores)`` is called when the held-out score has improved, at most
    every ``checkpoint_every`` seconds, with the module holding the best weights
    (to write a checkpoint that survives a crash). ``groups``: dicts with
    ``params``, ``scale`` (a multiple of the step size) and optionally
    ``weight_decay``, for weights that need other steps (word vectors, each seen
    in few rows). ``min_seconds``: train at least this long even when the
    deadline has passed (tables, trained five times over, keep it small).
    """
    from mathless.learners.budget import Budget

    torch = torch_setup(heavy)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    where = device()
    module.to(where)
    if inputs.dim() == 4:  # images: PyTorch's CPU convolutions run up to twice as fast in this layout
        module.to(memory_format=torch.channels_last)
    prepare = prepare or _as_float
    rows = len(inputs)
    batch_size = batch_size or default_batch_size(rows)
    batch_size = max(1, min(batch_size, rows))
    steps_per_pass = max(1, rows // batch_size)  # the last incomplete batch is left out (batch norm needs > 1)
    classification = task != "number"
    target = torch.as_tensor(np.array(answers), dtype=torch.long if classification else torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss() if classification else torch.nn.MSELoss()

    own_budget = None
    if budget is None:
        seconds = time_limit if time_limit is not None else (deadline - time.monotonic() if deadline else 60.0)
        own_budget = budget = Budget(max(seconds, 0.1), quiet)
        budget.__enter__()
    deadline = min(deadline or budget.deadline, budget.deadline)
    started = time.monotonic()
    result = Trained(learning_rate=learning_rate or 0.0)
    trainable = [p for p in module.parameters() if p.requires_grad]

    def batch_loss(index):
        xb = prepare(inputs[index].to(where, non_blocking=True), True)
        out = module(xb)
        return loss_fn(out[:, 0] if not classification else out, target[index].to(where))

    def order_stream():
        while True:
            order = torch.from_numpy(rng.permutation(rows))
            for s in range(steps_per_pass):
                yield order[s * batch_size:(s + 1) * batch_size]

    try:
        # 1. the step size, by a short trial run
        full_cycle = learning_rate is not None  # a step the caller chose rises and eases off too
        if learning_rate is None and deadline - time.monotonic() < 1.0:
            learning_rate, speed = 1e-3, None
            result.notes.append("There was too little time to try step sizes; used the usual 0.001.")
        elif learning_rate is None:
            budget.step(label, "finding a good step size")
            _training_mode(module, frozen_norms)
            learning_rate, speed, full_cycle = _find_learning_rate(
                module, trainable, groups, batch_loss, order_stream(), weight_decay, deadline, started,
                steps_per_pass, result.notes)
        else:
            speed = None
        result.learning_rate = learning_rate

        # 2. the plan: how many steps fit in the time left
        optimizer = _adamw(torch, trainable, groups, learning_rate, weight_decay)
        train_start = time.monotonic()
        # time kept for the last held-out check; a tenth at most, or a short slice (tables train five) is mostly kept
        reserve = min(_estimate_check_seconds(speed, len(held_inputs), batch_size), 0.1 * max(0.0, deadline - train_start))
        least = min(min_seconds, max(min(2.0, min_seconds), 0.5 * (deadline - started)))
        if deadline - train_start - reserve < least:
            result.notes.append(
                f"The time budget was nearly used up before training began (reading the data and starting up take time); "
                f"trained for {least:.0f} s anyway. Give more time for a better model."
            )
        available = max(least, deadline - train_start - reserve)
        deadline = max(deadline, train_start + available)
        # the schedule runs on the clock (the step size falls as the time runs out), capped at max_passes
        planned_steps = max_passes * steps_per_pass
        expected_steps = int(max(1, min(planned_steps, available * speed))) if speed else planned_steps
        planned_passes = expected_steps / steps_per_pass
        patience = max(3, int(planned_passes // 5))
        best_loss, best_state, since_best = math.inf, None, 0
        reference_loss, retries, step, last_check = None, 0, 0, time.monotonic()
        last_saved = time.monotonic()
        check_every = max(2.0, available / 8)
        stream = order_stream()

        _training_mode(module, frozen_norms)
        while True:
            now = time.monotonic()
            progress = max(step / planned_steps, (now - train_start) / available)
            if progress >= 1 or now >= deadline:
                result.stopped = "the planned training finished" if step >= planned_steps else "the time was up"
                break
            _set_step(optimizer, _step_size(progress, learning_rate, full_cycle))
            loss = batch_loss(next(stream))
            value = float(loss.detach())
            if reference_loss is None:
                reference_loss = value
            if not math.isfinite(value) or value > 20 * max(reference_loss, 1e-3):
                retries += 1
                if retries > MAX_RETRIES:
                    result.notes.append("Training kept blowing up even with much smaller steps; kept the best weights it reached.")
                    result.stopped = "training was unstable"
                    break
                learning_rate /= 10
                result.learning_rate = learning_rate
                shown = "not a number (NaN)" if not math.isfinite(value) else f"{value:.3g}, far above where it started ({reference_loss:.3g})"
                result.notes.append(
                    f"Training blew up (the error became {shown}); went back to the best weights so far and "
                    f"carried on with a 10 times smaller step ({learning_rate:.2g})."
                )
                if best_state is not None:
                    module.load_state_dict(best_state)
                optimizer = _adamw(torch, trainable, groups, learning_rate, weight_decay)
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 5.0)
            optimizer.step()
            step += 1
            end_of_pass = step % steps_per_pass == 0
            if end_of_pass or time.monotonic() - last_check > check_every or step >= planned_steps:
                scores = _held_out_scores(module, held_inputs, held_answers, prepare, task)
                _training_mode(module, frozen_norms)
                last_check = time.monotonic()
                scores.update(passes=round(step / steps_per_pass, 2), seconds=round(last_check - started, 1), train_loss=value)
                result.history.append(scores)
                if scores["loss"] < best_loss - 1e-5:
                    best_loss, since_best = scores["loss"], 0
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
                    result.best = dict(scores)
                    if on_best is not None and time.monotonic() - last_saved >= checkpoint_every:
                        last_saved = time.monotonic()
                        _checkpoint(on_best, module, scores, frozen_norms, result.notes)
                else:
                    since_best += 1
                detail = f"pass {step / steps_per_pass:.1f} of about {planned_passes:.0f}"
                if "accuracy" in scores:
                    detail += f", right {scores['accuracy'] * 100:.1f} times in 100 on held-out examples"
                budget.step(label, detail)
                if since_best >= patience and progress > 0.5:
                    result.stopped = "the held-out score stopped improving"
                    break
    except KeyboardInterrupt:
        result.stopped = "you pressed Ctrl-C"
        result.notes.append("Training was stopped with Ctrl-C; the best weights reached so far are kept.")
    finally:
        if own_budget is not None:
            own_budget.__exit__(None, None, None)
    if "best_state" in locals() and best_state is not None:
        module.load_state_dict(best_state)
    elif not result.best and len(held_inputs):
        result.best = _held_out_scores(module, held_inputs, held_answers, prepare, task)
    module.eval()
    result.seconds = time.monotonic() - started
    result.passes = (locals().get("step", 0) or 0) / steps_per_pass
    trained_for = time.monotonic() - locals().get("train_start", started)
    result.examples_per_second = (locals().get("step", 0) or 0) * batch_size / max(trained_for, 1e-9)
    return result


def _checkpoint(on_best, module, scores, frozen_norms, notes) -> None:
    module.eval()
    try:
        on_best(dict(scores))
    except OSError as error:
        if not any("checkpoint" in note for note in notes):
            notes.append(f"Could not write a checkpoint ({error}); training went on without one.")
    _training_mode(module, frozen_norms)


def _training_mode(module, frozen_norms: bool) -> None:
    module.train()
    if frozen_norms:
        import torch

        for part in module.modules():
            if isinstance(part, torch.nn.modules.batchnorm._BatchNorm):
                part.eval()


def _estimate_check_seconds(speed, held_rows, batch_size) -> float:
    if not speed:
        return 0.5
    # a forward pass costs about a third of a training step
    return held_rows / (speed * batch_size * 3) + 0.2


def _find_learning_rate(module, trainable, groups, batch_loss, stream, weight_decay, deadline, started, steps_per_pass,
                        notes):
    """Try step sizes from 1e-6 up to 1; pick a tenth of the one where the error was lowest.

    Returns ``(learning_rate, training steps per second, whether the trial chose it)``
    (when it did not, the usual 0.001 is returned);
    the module's weights are put back as they were.
    """
    import torch

    saved = {k: v.detach().clone() for k, v in module.state_dict().items()}
    steps = int(min(100, max(30, steps_per_pass)))
    low, high = 1e-6, 1.0
    optimizer = _adamw(torch, trainable, groups, low, weight_decay)
    smoothed, best, best_lr, tried, rose = 0.0, math.inf, None, 0, False
    time_box = started + max(0.5, (deadline - started) * 0.12)
    hard_stop = started + max(1.0, (deadline - started) * 0.3)
    begun = time.monotonic()
    for i in range(steps):
        lr = low * (high / low) ** (i / (steps - 1))
        _set_step(optimizer, lr)
        loss = batch_loss(next(stream))
        value = float(loss.detach())
        tried += 1
        if not math.isfinite(value):
            rose = True
            break
        smoothed = 0.9 * smoothed + 0.1 * value
        corrected = smoothed / (1 - 0.9 ** (i + 1))
        if corrected < best:
            best, best_lr = corrected, lr
        if i > 5 and corrected > 4 * best:
            rose = True
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        now = time.monotonic()
        if (now > time_box and tried >= 10) or now > hard_stop:
            break
    speed = tried / max(time.monotonic() - begun, 1e-9)
    module.load_state_dict(saved)
    if best_lr is None or tried < 10:
        notes.append("There was too little time to try step sizes; used the usual 0.001.")
        return 1e-3, speed, False
    if not rose and lr < 1e-2:  # the clock ended the trial while the error still fell: its best is just its last
        notes.append(f"The step-size trial ran out of time at {lr:.2g}, before the error began to rise; "
                     f"used the usual 0.001.")
        return 1e-3, speed, False
    chosen = float(np.clip(best_lr / 10, 1e-5, 1e-2))
    notes.append(f"Step size {chosen:.2g}, found by a short trial of {tried} steps (a learning-rate range test).")
    return chosen, speed, True
