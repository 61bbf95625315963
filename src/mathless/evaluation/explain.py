"""Explain one prediction: why this answer, and what the network computes on the way.

Why: each input's share of the difference between this row's prediction and
the prediction for a typical row (the median of every number, the most common
label of every category). Shares are Shapley values estimated by adding the
row's values to the typical row one column at a time, in many random orders,
and averaging each column's effect; they add up exactly to the difference.

How: for a neural network, the forward pass on this row in numbers — the
weighted sums of a few neurons, the activation, the output — and what one
training step would change.
"""

from __future__ import annotations

import numpy as np

from mathless.evaluation.metrics import is_classification
from mathless.evaluation.verdict import amount

ORDERS = 64


def _quantity(model, raw, class_index):
    return raw[:, class_index] if is_classification(model.task) else raw


def contributions(model, row_frame, seed: int = 0) -> dict:
    """Shapley values of each used column for one row, against the typical row."""
    import pandas as pd

    from mathless.evaluation.insights import typical_row

    columns = [spec["name"] for spec in model.prep.columns]
    reference = typical_row(model.insights.get("profile", {}), columns)
    row = row_frame.iloc[0]
    raw_row = model._raw(row_frame)
    class_index = int(raw_row[0].argmax()) if is_classification(model.task) else None
    rng = np.random.default_rng(seed)
    orders = []
    for _ in range(ORDERS // 2):
        order = rng.permutation(len(columns))
        orders += [order, order[::-1]]  # an order and its reverse cancel much of the noise
    steps = []
    for order in orders:
        current = dict(reference)
        steps.append(dict(current))
        for j in order:
            current[columns[j]] = row[columns[j]]
            steps.append(dict(current))
    frame = pd.DataFrame(steps, columns=columns)
    for column in columns:  # keep each column's type as in the row, so numbers stay numbers
        if pd.api.types.is_numeric_dtype(row_frame[column]):
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    values = _quantity(model, model._raw(frame), class_index)
    shares = np.zeros(len(columns))
    position = 0
    for order in orders:
        block = values[position:position + len(columns) + 1]
        shares[order] += np.diff(block)
        position += len(columns) + 1
    shares /= len(orders)
    typical = float(values[0])
    predicted = float(_quantity(model, raw_row, class_index)[0])
    return {
        "predicted": predicted, "typical": typical, "class_index": class_index,
        "answer": model.classes[class_index] if class_index is not None else predicted,
        "shares": {columns[i]: float(shares[i]) for i in np.argsort(-np.abs(shares))},
        "values": {c: (None if row[c] != row[c] else row[c]) for c in columns},
    }


def why_in_words(model, result) -> list:
    """Sentences: the prediction, the typical prediction, and the inputs that moved it most."""
    lines = []
    top = [(c, s) for c, s in result["shares"].items() if abs(s) > 1e-9][:4]
    if is_classification(model.task):
        label = result["answer"]
        lines.append(f"The model answers '{label}' with a {result['predicted']:.0%} chance; "
                     f"for a typical row the chance of '{label}' would be {result['typical']:.0%}.")
        parts = [f"{c} = {_shown(result['values'][c])} ({s * 100:+.0f} points)" for c, s in top]
    else:
        difference = result["predicted"] - result["typical"]
        word = "higher" if difference >= 0 else "lower"
        lines.append(f"The predicted {model.target} is {amount(result['predicted'])}; for a typical row it would be "
                     f"{amount(result['typical'])}. It is {amount(abs(difference))} {word} than typical.")
        parts = [f"{c} = {_shown(result['values'][c])} ({'+' if s >= 0 else '-'}{amount(abs(s))})" for c, s in top]
    if parts:
        lines.append("Mostly because " + "; ".join(parts) + ".")
    return lines


def _shown(value) -> str:
    if value is None:
        return "(missing)"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def forward_pass(model, row_frame, truth=None, neurons: int = 3) -> list:
    """The network's arithmetic on this row, layer by layer, in numbers; and one training step."""
    import torch

    networks = [(weight, members) for name, weight, members in model.learners if name == "network"]
    if not networks:
        names = " and ".join(name for name, _, _ in model.learners)
        return [f"This model is made of {names}; it has no neurons to walk through "
                f"(there was no time left to train the network)."]
    weight, members = networks[0]
    network = members[0]
    design = model.prep.transform(row_frame)
    names = design.dense_names
    x = np.asarray(design.dense.toarray() if hasattr(design.dense, "toarray") else design.dense, dtype=np.float32)[0]
    lines = []
    if len(members) > 1:
        lines.append(f"The model averages {len(members)} networks (one per part of the data it was checked on); "
                     f"this is the first of them.")
    if weight <= 0:
        lines.append("The network has no share in this model's answers (other learners did better on held-out rows), "
                     "but it was trained on the same rows; this is what it computes.")
    lines.append(f"The network reads {len(x)} numbers made from the row (numbers centred and scaled, one 0/1 per category):")
    shown = np.argsort(-np.abs(x))[:6]
    lines.append("  " + ", ".join(f"{names[i]} = {x[i]:.3g}" for i in shown) + (" …" if len(x) > 6 else ""))
    current = torch.tensor(x).unsqueeze(0)
    current.requires_grad_(False)
    layers = list(network.module)
    activations = []
    layer_number = 0
    for layer in layers:
        kind = type(layer).__name__
        if kind == "Linear":
            layer_number += 1
            weights, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
            inputs = current.detach().numpy()[0]
            out = inputs @ weights.T + bias
            last = layer is layers[-1]
            lines.append(f"Layer {layer_number}: {weights.shape[0]} neurons, each a weighted sum of {weights.shape[1]} inputs plus a bias.")
            pick = range(weights.shape[0]) if last and weights.shape[0] <= 5 else np.argsort(-out)[:neurons]
            for n in pick:
                terms = inputs * weights[n]
                big = np.argsort(-np.abs(terms))[:3]
                label = names if layer_number == 1 else None
                described = " + ".join(
                    f"{weights[n, i]:.3g}×{inputs[i]:.3g}" + (f" ({label[i]})" if label else f" (input {i + 1})")
                    for i in big)
                rest = float(terms.sum() - terms[big].sum())
                title = (f"output for '{model.classes[n]}'" if last and is_classification(model.task)
                         else "output" if last else f"neuron {n + 1}")
                lines.append(f"  {title}: {described} + {rest:.3g} (the other {len(terms) - 3} terms) "
                             f"+ bias {bias[n]:.3g} = {out[n]:.4g}")
            current = torch.tensor(out, dtype=torch.float32).unsqueeze(0)
            activations.append(out)
        elif kind.startswith("Dropout"):
            continue  # only active while training
        elif kind == "WordVectors":
            lines.extend(_word_vector_lines(layer, current.numpy()[0], names))
            with torch.no_grad():
                current = layer(current)
        else:
            before = current.numpy()[0]
            with torch.no_grad():
                layer.eval()
                current = layer(current)
            after = current.numpy()[0]
            lines.append("  " + _describe_step(kind, before, after))
    output = current.numpy()[0]
    if is_classification(model.task):
        chances = np.exp(output - output.max())
        chances /= chances.sum()
        lines.append("Softmax turns the output scores into chances that add up to 100%: " +
                     ", ".join(f"'{c}' {p:.1%}" for c, p in zip(model.classes, chances)) + ".")
    else:
        lines.append(f"The output {output[0]:.4g} is in scaled units: × {network.y_scale:.4g} + {network.y_mean:.4g} "
                     f"= {output[0] * network.y_scale + network.y_mean:.4g}.")
    if truth is not None:
        lines.extend(_training_step(model, network, x, truth))
    return lines


def _word_vector_lines(layer, x, names) -> list:
    """`embedding`: the text's vector as its words' vectors added up, weighted by their counts."""
    size = layer.words[0].weight.shape[0] if len(layer.words) else 0
    lines = [f"embedding: every word has a learned vector of {size} numbers; a text's vector is its words' vectors "
             f"added up, each weighted by the word's count (TF-IDF)."]
    for words, (start, end) in zip(layer.words, layer.spans):
        counts = x[start:end]
        present = np.flatnonzero(counts)
        vectors = words.weight.detach().numpy()
        total = vectors @ counts
        top = present[np.argsort(-counts[present])][:3]
        shown = " + ".join(f"{counts[i]:.2g} × vector('{names[start + i].split(':', 1)[-1]}')" for i in top)
        rest = f" + … (the other {len(present) - len(top)} words)" if len(present) > len(top) else ""
        column = names[start].split(":", 1)[0] if end > start else "text"
        lines.append(f"  '{column}': {shown or 'no known words (a vector of zeros)'}{rest} = "
                     f"[{', '.join(f'{v:.3g}' for v in total[:4])}{', …' if size > 4 else ''}]")
    return lines


def _describe_step(kind: str, before, after, on: str = "on this row") -> str:
    """One line for an activation or normalising layer, with a real example from this row."""
    i = int(np.argmax(np.abs(before)))
    example = f"e.g. {before[i]:.3g} → {after[i]:.3g}"
    if kind == "ReLU":
        return f"ReLU: negative sums become 0 ({int((before <= 0).sum())} of {len(before)} neurons are silent {on})."
    if kind.startswith("BatchNorm"):
        return f"batchnorm: each value is shifted and rescaled with averages learned during training ({example})."
    curves = {"Tanh": "squeezed into -1…1", "Sigmoid": "squeezed into 0…1", "GELU": "kept if positive, damped if negative",
              "SiLU": "kept if positive, damped if negative", "ELU": "kept if positive, flattened towards -1 if negative",
              "LeakyReLU": "kept if positive, shrunk to 1% if negative", "Softplus": "a smooth ReLU",
              "ReLU6": "clipped to 0…6"}
    return f"{kind}: each value is {curves.get(kind, 'transformed')} ({example})."


def _training_step(model, network, x, truth) -> list:
    """What one step of training on this row would change, from the real gradient."""
    import torch

    from mathless.learners.prepare import as_labels

    module = network.module
    module.eval()
    module.zero_grad()
    out = module(torch.tensor(x).unsqueeze(0))
    if is_classification(model.task):
        label = as_labels(__import__("pandas").Series([truth])).iloc[0]
        if label not in model.classes:
            return [f"The true answer '{truth}' is not one the model knows, so there is no training step to show."]
        target = model.classes.index(label)
        loss = torch.nn.functional.cross_entropy(out, torch.tensor([target]))
        said = f"the true answer is '{label}'; the error (cross-entropy, -log of its chance) is {loss.item():.4g}"
        output_index = target
    else:
        scaled = (float(truth) - network.y_mean) / network.y_scale
        loss = (out[0, 0] - scaled) ** 2
        said = f"the true {model.target} is {float(truth):.4g}; the error (squared, in scaled units) is {loss.item():.4g}"
        output_index = 0
    loss.backward()
    last = [m for m in module if type(m).__name__ == "Linear"][-1]
    gradient = last.weight.grad[output_index].numpy()
    weight = last.weight.detach()[output_index].numpy()
    step = 1e-3
    strongest = np.argsort(-np.abs(gradient))[:3]
    lines = [f"One training step: {said}."]
    lines.append(f"  Each weight moves against its gradient (learning rate {step:g}); the three that would move most "
                 f"in the output layer:")
    for i in strongest:
        lines.append(f"  weight from neuron {i + 1}: {weight[i]:.4g} → {weight[i] - step * gradient[i]:.4g} "
                     f"({'up' if gradient[i] < 0 else 'down'}, so the right answer gets {'more' if is_classification(model.task) else 'closer'})")
    module.zero_grad()
    return lines
