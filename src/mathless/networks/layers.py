"""Layer words: a network written as a list of plain words, with every shape worked out.

    ["conv 32", "pool", "conv 64", "pool", "flatten", "dense 128", "dropout 0.3"]

Each word is one step the data goes through:

- ``dense N``   N neurons; each is a weighted sum of all its inputs, then an
                activation (ReLU: negative becomes zero) unless the next word
                names another activation.
- ``conv N``    N small pattern detectors slid over an image (3×3 pixels, or
                ``conv N size 5``), each followed by ReLU like ``dense``.
- ``pool`` / ``pool K``  keep the largest value of each 2×2 (K×K) patch: the image
                gets K times smaller in each direction.
- ``globalpool``  the average of each channel over the whole image.
- ``flatten``   lay an image out as one long row of numbers, so ``dense`` can read it.
- ``dropout P`` while training, switch off a random share P of the values, so the
                network cannot lean on any single one (it learns more robustly).
- ``batchnorm`` rescale each value to an average of 0 and a spread of 1 over
                each batch; makes training faster and steadier.
- ``relu``, ``gelu``, ``tanh``, ``sigmoid``, ``elu``, ``leakyrelu``, ``silu``,
  ``softplus``, ``relu6``, ``linear``  the activation for the ``dense``/``conv``
                just before it (``linear``: none).
- ``mobilenet_v2``  a MobileNetV2 network pretrained on ImageNet photos, used as
                the first part of an image network (transfer learning).
- ``embedding N``  for a table with a text column: every word gets a learned vector
                of N numbers, and a text becomes its words' vectors combined,
                weighted by their counts (must be the first word; see word_vectors.py).

The output layer (one neuron per class, or one for a number) is added for the
task. A network is rebuilt from its words, the input shape and the number of
outputs alone, so saved models store those and never code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mathless.errors import UserError, closest

ACTIVATIONS = {
    "relu": "ReLU", "gelu": "GELU", "tanh": "Tanh", "sigmoid": "Sigmoid", "elu": "ELU",
    "leakyrelu": "LeakyReLU", "silu": "SiLU", "softplus": "Softplus", "relu6": "ReLU6", "linear": None,
}
ALIASES = {
    "fc": "dense", "linear layer": "dense", "full": "dense", "fully connected": "dense",
    "conv2d": "conv", "convolution": "conv",
    "maxpool": "pool", "max pool": "pool", "maxpooling": "pool", "pooling": "pool",
    "global pool": "globalpool", "globalaveragepool": "globalpool", "global average pool": "globalpool",
    "gap": "globalpool", "avgpool": "globalpool",
    "batch norm": "batchnorm", "batchnormalization": "batchnorm", "batch normalization": "batchnorm",
    "bn": "batchnorm", "norm": "batchnorm",
    "leaky relu": "leakyrelu", "swish": "silu", "none": "linear", "identity": "linear",
    "mobilenet": "mobilenet_v2", "mobilenetv2": "mobilenet_v2", "mobilenet v2": "mobilenet_v2",
    "mobilenet-v2": "mobilenet_v2", "embed": "embedding",
}
WORDS = ["dense", "conv", "pool", "globalpool", "flatten", "dropout", "batchnorm", "mobilenet_v2",
         "embedding", *ACTIVATIONS]
HELP = ("The layer words are: dense N, conv N (or conv N size K), pool (or pool K), globalpool, flatten, "
        "dropout P, batchnorm, mobilenet_v2, and the activations " + ", ".join(ACTIVATIONS) + ".")


@dataclass(frozen=True)
class Layer:
    """One parsed layer word. ``str(layer)`` gives back canonical words that parse to the same layer."""

    word: str
    size: int | None = None      # neurons (dense), pattern detectors (conv), patch width (pool)
    kernel: int | None = None    # conv window width
    rate: float | None = None    # dropout share

    def __str__(self) -> str:
        if self.word == "dense" or self.word == "embedding":
            return f"{self.word} {self.size}"
        if self.word == "conv":
            return f"conv {self.size}" + (f" size {self.kernel}" if self.kernel != 3 else "")
        if self.word == "pool":
            return "pool" if self.size == 2 else f"pool {self.size}"
        if self.word == "dropout":
            return f"dropout {self.rate:g}"
        return self.word


# ---- reading the words ---------------------------------------------------------------

def parse_layers(spec) -> list[Layer]:
    """Layer words from a list of strings, one comma-separated string, or a YAML file.

    A YAML file holds a list of words, or ``layers:`` followed by that list.
    Every mistake is a ``UserError`` naming the layer and the fix.
    """
    items, where = _items(spec)
    if not items:
        raise UserError(f"{where} lists no layers. Give at least one word, e.g. \"dense 64\".")
    return [parse_word(item, i + 1, where) for i, item in enumerate(items)]


def _items(spec):
    if isinstance(spec, Path) or (isinstance(spec, str) and _looks_like_file(spec)):
        return _read_yaml(Path(spec)), f"'{spec}'"
    if isinstance(spec, str):
        return [part for part in (p.strip() for p in re.split(r"[,;\n]", spec)) if part], "the layer list"
    if isinstance(spec, (list, tuple)):
        items = []
        for entry in spec:
            if isinstance(entry, Layer):
                entry = str(entry)
            if isinstance(entry, str) and "," in entry:
                items.extend(p.strip() for p in entry.split(",") if p.strip())
            else:
                items.append(entry)
        return items, "the layer list"
    raise UserError(
        f"Layers must be a list of words like [\"dense 64\", \"dropout 0.2\"], one string like "
        f"\"dense 64, dropout 0.2\", or a YAML file; got {type(spec).__name__}."
    )


def _looks_like_file(text: str) -> bool:
    return text.lower().endswith((".yaml", ".yml")) or ("," not in text and Path(text).is_file())


def _read_yaml(path: Path) -> list:
    if not path.exists():
        raise UserError(f"The network file '{path}' does not exist. Check the path.")
    try:
        import yaml
    except ImportError:
        raise UserError("Reading a network from a YAML file needs PyYAML: pip install pyyaml.") from None
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"'{path}' is not a text file. A network file is a YAML list of layer words.") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" near line {mark.line + 1}" if mark is not None else ""
        raise UserError(
            f"'{path}' is not valid YAML{line}. Write one layer word per line, each starting with '- ', "
            f"e.g.\n- conv 32\n- pool\n- flatten\n- dense 128"
        ) from None
    if isinstance(content, dict):
        if "layers" not in content:
            raise UserError(f"'{path}' has no 'layers:' list. Write 'layers:' followed by one '- word' per line.")
        content = content["layers"]
    if isinstance(content, str):
        content = [p.strip() for p in content.split(",") if p.strip()]
    if not isinstance(content, list):
        raise UserError(f"'{path}' should hold a list of layer words (one '- word' per line).")
    return content


def parse_word(item, position: int, where: str = "the layer list") -> Layer:
    """One layer word ("conv 32 size 5", or YAML's {"conv": 32}) checked and made a ``Layer``."""
    if isinstance(item, dict) and len(item) == 1:
        key, value = next(iter(item.items()))
        item = f"{key} {value}" if value is not None else str(key)
    if not isinstance(item, str) or not item.strip():
        raise UserError(f"Layer {position} in {where} is {item!r}; each layer is a word like \"dense 64\".")
    text = " ".join(item.strip().lower().split())
    where_text = f"Layer {position} `{item.strip()}`"
    name, numbers = _split(text)
    name = ALIASES.get(name, name)
    if name not in WORDS:
        found = closest(name, WORDS + list(ALIASES), n=2)
        hint = f" Did you mean {' or '.join(repr(ALIASES.get(f, f)) for f in found)}?" if found else ""
        raise UserError(f"{where_text}: '{name}' is not a layer word.{hint} {HELP}")
    if name == "dense" or name == "embedding":
        size = _whole(numbers, 0, where_text, f"{name} needs how many {'neurons' if name == 'dense' else 'numbers per token'}, e.g. '{name} 64'")
        _no_more(numbers, 1, where_text, name)
        return Layer(name, size=size)
    if name == "conv":
        size = _whole(numbers, 0, where_text, "conv needs how many pattern detectors, e.g. 'conv 32'")
        kernel = 3
        rest = numbers[1:]
        if rest and rest[0] == "size":
            rest = rest[1:]
            if not rest:
                raise UserError(f"{where_text}: 'size' needs a window width, e.g. 'conv 32 size 5'.")
        if rest:
            kernel = _whole(rest, 0, where_text, "the conv window is a whole number, e.g. 'conv 32 size 5'")
            if len(rest) == 2 and rest[1] == rest[0]:  # "conv 32 5x5"
                rest = rest[:1]
            _no_more(rest, 1, where_text, name)
        return Layer("conv", size=size, kernel=kernel)
    if name == "pool":
        size = _whole(numbers, 0, where_text, "pool takes a whole number, e.g. 'pool 2'") if numbers else 2
        _no_more(numbers, 1, where_text, name)
        if size < 2:
            raise UserError(f"{where_text}: a pool of {size} does nothing; use 'pool' (2) or 'pool 3'.")
        return Layer("pool", size=size)
    if name == "dropout":
        if not numbers:
            raise UserError(f"{where_text}: dropout needs the share of values to switch off, e.g. 'dropout 0.2'.")
        raw = numbers[0].rstrip("%")
        try:
            rate = float(raw)
        except ValueError:
            raise UserError(f"{where_text}: '{numbers[0]}' is not a number; write e.g. 'dropout 0.2'.") from None
        if numbers[0].endswith("%") or 1 <= rate <= 100:
            if rate >= 1:
                raise UserError(f"{where_text}: dropout is a share between 0 and 1; for {rate:g}% write 'dropout {rate / 100:g}'.")
        if not 0 <= rate < 1:
            raise UserError(f"{where_text}: dropout is a share from 0 up to (not including) 1, e.g. 'dropout 0.2'.")
        _no_more(numbers, 1, where_text, name)
        return Layer("dropout", rate=rate)
    _no_more(numbers, 0, where_text, name)
    return Layer(name)


def _split(text: str):
    """'global average pool' -> ('global average pool', []); 'conv 32 3x3' -> ('conv', ['32', '3', '3'])."""
    tokens = text.split(" ")
    name, rest = tokens[0], tokens[1:]
    for length in (3, 2):
        candidate = " ".join(tokens[:length])
        if len(tokens) >= length and (candidate in ALIASES or candidate in WORDS):
            name, rest = candidate, tokens[length:]
            break
    numbers = [n for n in re.split(r"[\s×x*]+", " ".join(rest)) if n]
    return name, numbers


def _whole(numbers, index, where_text, need) -> int:
    if len(numbers) <= index:
        raise UserError(f"{where_text}: {need}.")
    try:
        value = float(numbers[index])
    except ValueError:
        raise UserError(f"{where_text}: '{numbers[index]}' is not a number; {need}.") from None
    if value != int(value) or value < 1:
        raise UserError(f"{where_text}: '{numbers[index]}' must be a whole number of at least 1; {need}.")
    return int(value)


def _no_more(numbers, used, where_text, name) -> None:
    if len(numbers) > used:
        extra = " ".join(numbers[used:])
        raise UserError(f"{where_text}: did not understand '{extra}' after '{name}'. {HELP}")


# ---- building the network --------------------------------------------------------------

def describe_shape(shape) -> str:
    if len(shape) == 3:
        return f"image {shape[1]}×{shape[2]}, {shape[0]} channel{'s' if shape[0] != 1 else ''}"
    return f"{shape[0]:,} numbers"


def build_network(words, input_shape, outputs: int, text_spans=None):
    """The PyTorch module for ``words`` and a table of each layer's output shape.

    ``input_shape`` is ``(features,)`` for a table or ``(channels, height, width)``
    for images; ``outputs`` the number of classes (1 for a number).
    ``text_spans``: for a table, the (start, end) input positions of each text
    column's word counts, which `embedding` reads. Returns
    ``(module, rows)``: rows are dicts with ``layer``, ``shape``, ``learns`` (how many
    numbers that layer learns from the data) and ``pretrained`` (how many it brings
    ready-made and keeps: the pretrained MobileNetV2).
    """
    from torch import nn

    layers = parse_layers(words) if not (isinstance(words, list) and all(isinstance(w, Layer) for w in words)) else words
    shape = tuple(int(s) for s in input_shape)
    kind = "image" if len(shape) == 3 else "table"
    pieces: list = []        # (label, [modules], shape after, added)
    pending = None           # activation owed by the last dense/conv: [label, module name, added by us]

    def flush():
        nonlocal pending
        if pending is not None and pending[1] is not None:
            pieces.append((pending[0], [getattr(nn, pending[1])()], shape, pending[2]))
        pending = None

    for position, layer in enumerate(layers, start=1):
        here = f"Layer {position} `{layer}`"
        word = layer.word
        if word in ACTIVATIONS:
            if pending is not None:
                pending = [word, ACTIVATIONS[word], False]  # the user's choice replaces our ReLU
            else:
                flush()
                if ACTIVATIONS[word] is not None:
                    pieces.append((word, [getattr(nn, ACTIVATIONS[word])()], shape, False))
            continue
        if word == "batchnorm":
            norm = nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])
            pieces.append(("batchnorm", [norm], shape, False))
            continue  # the pending activation comes after the normalising, as usual
        flush()
        if word == "dense":
            if len(shape) == 3:
                raise UserError(
                    f"{here} gets an image ({shape[0]}×{shape[1]}×{shape[2]} numbers) but reads a row of numbers; "
                    f"put `flatten` (or `globalpool`) before it."
                )
            pieces.append((str(layer), [nn.Linear(shape[0], layer.size)], (layer.size,), False))
            shape = (layer.size,)
            pending = ["relu", "ReLU", True]
        elif word == "conv":
            if len(shape) != 3:
                raise UserError(
                    f"{here}: `conv` needs an image, but {'this data is a table' if kind == 'table' else 'it gets a row of numbers (after flatten or dense)'}. "
                    f"{'Use dense layers for tables.' if kind == 'table' else 'Put conv layers before flatten.'}"
                )
            if layer.kernel > min(shape[1], shape[2]):
                raise UserError(
                    f"{here}: its {layer.kernel}×{layer.kernel} window is larger than the {shape[1]}×{shape[2]} image it gets. "
                    f"Use a smaller size or fewer pool layers before it."
                )
            conv = nn.Conv2d(shape[0], layer.size, layer.kernel, padding=layer.kernel // 2)
            shape = (layer.size, shape[1] + 2 * (layer.kernel // 2) - layer.kernel + 1,
                     shape[2] + 2 * (layer.kernel // 2) - layer.kernel + 1)
            pieces.append((str(layer), [conv], shape, False))
            pending = ["relu", "ReLU", True]
        elif word == "pool":
            if len(shape) != 3:
                raise UserError(f"{here}: `pool` shrinks an image, but {'this data is a table' if kind == 'table' else 'it gets a row of numbers'}. Remove it.")
            if shape[1] < layer.size or shape[2] < layer.size:
                raise UserError(
                    f"{here} gets an image of only {shape[1]}×{shape[2]} pixels, too small to pool by {layer.size}. "
                    f"Remove this pool (or an earlier one), or use larger images."
                )
            shape = (shape[0], shape[1] // layer.size, shape[2] // layer.size)
            pieces.append((str(layer), [nn.MaxPool2d(layer.size)], shape, False))
        elif word == "globalpool":
            if len(shape) != 3:
                raise UserError(f"{here}: `globalpool` averages over an image, but {'this data is a table' if kind == 'table' else 'it gets a row of numbers'}. Remove it.")
            shape = (shape[0],)
            pieces.append(("globalpool", [nn.AdaptiveAvgPool2d(1), nn.Flatten()], shape, False))
        elif word == "flatten":
            if len(shape) == 3:
                shape = (shape[0] * shape[1] * shape[2],)
                pieces.append(("flatten", [nn.Flatten()], shape, False))
        elif word == "dropout":
            pieces.append((str(layer), [nn.Dropout2d(layer.rate) if len(shape) == 3 else nn.Dropout(layer.rate)], shape, False))
        elif word == "mobilenet_v2":
            from mathless.networks.mobilenet import MobileNetV2Features

            if len(shape) != 3:
                raise UserError(f"{here}: `mobilenet_v2` reads photos, but {'this data is a table' if kind == 'table' else 'it gets a row of numbers'}.")
            if position != 1:
                raise UserError(f"{here}: `mobilenet_v2` must be the first layer: it was trained on photos, not on other layers' outputs.")
            if shape[0] != 3:
                raise UserError(f"{here}: `mobilenet_v2` needs colour images (3 channels); these have {shape[0]}.")
            if min(shape[1], shape[2]) < 32:
                raise UserError(f"{here}: `mobilenet_v2` needs images of at least 32×32 pixels; these are {shape[1]}×{shape[2]}.")
            backbone = MobileNetV2Features()
            shape = backbone.output_shape(shape)
            pieces.append(("mobilenet_v2 (pretrained on ImageNet)", [backbone], shape, False))
        elif word == "embedding":
            if kind == "image" or not text_spans:
                raise UserError(
                    f"{here}: `embedding` gives each word of a text column a learned vector of numbers, and "
                    f"{'images have no words' if kind == 'image' else 'this data has no text column'}; leave `embedding` out."
                )
            if position != 1:
                raise UserError(f"{here}: `embedding` reads the words of the text, so it must be the first layer.")
            from mathless.networks.word_vectors import WordVectors

            vectors = WordVectors(shape[0], text_spans, layer.size)
            shape = (vectors.outputs,)
            pieces.append((f"embedding {layer.size} (a learned vector of {layer.size} numbers per word, "
                           f"combined over each text)", [vectors], shape, False))
    flush()
    if len(shape) == 3:
        shape = (shape[0] * shape[1] * shape[2],)
        pieces.append(("flatten", [nn.Flatten()], shape, True))
    pieces.append((f"output: dense {outputs}", [nn.Linear(shape[0], outputs)], (outputs,), True))

    modules, rows = [], [{"layer": "input", "shape": describe_shape(tuple(int(s) for s in input_shape)), "learns": 0,
                          "pretrained": 0, "added": False}]
    for label, parts, after, added in pieces:
        modules.extend(parts)
        numbers = int(sum(p.numel() for part in parts for p in part.parameters()))
        pretrained = any(getattr(part, "pretrained", False) for part in parts)
        rows.append({"layer": label, "shape": describe_shape(after), "learns": 0 if pretrained else numbers,
                     "pretrained": numbers if pretrained else 0, "added": added})
    return nn.Sequential(*modules), rows


def words_of(layers) -> list[str]:
    """Canonical strings for storing in a manifest."""
    return [str(layer) for layer in (layers if isinstance(layers[0], Layer) else parse_layers(layers))]


def shape_table(rows, title: str = "The network, layer by layer"):
    """A rich Table of the layers: what comes out of each, and how many numbers it learns."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("layer")
    table.add_column("what comes out")
    table.add_column("numbers it learns", justify="right")
    for row in rows:
        label = row["layer"] + (" (added)" if row.get("added") and not row["layer"].startswith("output") else "")
        table.add_row(label, row["shape"], learns_text(row))
    total = sum(row["learns"] for row in rows)
    pretrained = sum(row.get("pretrained", 0) for row in rows)
    table.add_row("total", "", f"{total:,}" + (f" (and {pretrained:,} pretrained)" if pretrained else ""))
    return table


def learns_text(row) -> str:
    """The "numbers it learns" cell: a count, nothing, or what came pretrained and stays as it is."""
    if row.get("pretrained"):
        return f"none: {row['pretrained']:,} come pretrained"
    return f"{row['learns']:,}" if row["learns"] else ""


def print_shape_table(rows, console, title: str = "The network, layer by layer") -> None:
    console.print(shape_table(rows, title))
    console.print(
        "  (Each learned number is a weight: how much one input counts in a neuron's weighted sum. "
        "Training adjusts them to lower the error.)"
    )
