"""A small neural network for tables: two layers of neurons, trained with early stopping.

Each neuron is a weighted sum of its inputs passed through an activation
(ReLU: negative becomes zero). Training nudges every weight a little in the
direction that lowers the error on a batch of rows, over and over; we keep the
weights that did best on held-out rows and stop when they stop improving. The
loop that does it is the one every neural learner shares (networks/training.py).
"""

from __future__ import annotations

import numpy as np

from mathless.machine import cores

NAME = "network"
TITLE = "neural network"
WORDS = ("dense 256", "dropout 0.1", "dense 128", "dropout 0.1")  # the default network, in layer words
MAX_PASSES = 1000
MIN_SECONDS = 0.3  # each of the five cross-validation parts trains at least this long


def _torch(rows: int = 0):
    """PyTorch with a thread count that suits the work: small batches run best on one core."""
    import torch

    torch.set_num_threads(1 if rows < 50_000 else cores())
    return torch


def build(words, inputs: int, outputs: int, text_spans=None):
    """The network from its layer words (see mathless/networks/layers.py); the output layer is added."""
    from mathless.networks.layers import build_network

    module, _ = build_network(list(words), (inputs,), outputs, text_spans=text_spans)
    return module



def warm_up() -> None:
    """Load the library, and take one tiny training step, before the clock for this learner starts.

    PyTorch's first optimiser step in a process loads more of the library and took
    about 1 s here (the next ones take under a millisecond): without this, the first
    cross-validation part's network got a single pass over the data in a short budget.
    """
    import torch

    layer = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(layer.parameters())
    layer(torch.zeros(4, 2)).sum().backward()
    optimizer.step()

class Network:
    def __init__(self, module=None, y_mean=0.0, y_scale=1.0, epochs=0, words=WORDS, inputs=None, text_spans=()):
        self.module, self.y_mean, self.y_scale, self.epochs = module, y_mean, y_scale, epochs
        self.words = list(words)
        self.inputs, self.text_spans = inputs, [tuple(span) for span in text_spans]
        self.curve: dict = {}
        self.notes: list = []  # blow-ups caught while training, for the user
        self.diverged = False

    def fit(self, design, y, val_design, y_val, task, classes, deadline, seed=0, weights=None):
        """Train with the loop every neural learner shares (mathless/networks/training.py): step size
        found by a short trial, the weights best on the held-out rows kept, blow-ups retried."""
        from mathless.networks.training import Rows, train

        rows, inputs = design.dense.shape
        answers, held_answers = np.asarray(y), np.asarray(y_val)
        if task == "number":
            self.y_mean, self.y_scale = float(np.mean(answers)), float(np.std(answers) or 1.0)
            answers = (answers - self.y_mean) / self.y_scale
            held_answers = (held_answers - self.y_mean) / self.y_scale
        self.inputs, self.text_spans = int(inputs), list(design.text_spans)
        self.module = build(self.words, inputs, 1 if task == "number" else classes, self.text_spans)
        # word vectors (`embedding`) get 10x larger steps: each word occurs in few rows, so it is seldom nudged
        word_vectors = [p for m in self.module if type(m).__name__ == "WordVectors" for p in m.parameters()]
        trained = train(
            self.module, Rows(design.dense), answers, Rows(val_design.dense), held_answers,
            task="number" if task == "number" else "one-of-many", deadline=deadline, quiet=True, seed=seed,
            batch_size=int(min(1024, max(64, rows // 16))), max_passes=MAX_PASSES, weight_decay=1e-4,
            groups=[{"params": word_vectors, "scale": 10.0, "weight_decay": 0.0}], min_seconds=MIN_SECONDS,
            label=TITLE, heavy=rows >= 50_000,  # small batches of a small table run best on one core
        )
        self.module.to("cpu").eval()
        if trained.stopped == "you pressed Ctrl-C":
            raise KeyboardInterrupt  # the best weights are in place; the table fit decides what to keep
        scale = self.y_scale if task == "number" else 1.0  # RMSE in the answer's own units

        def shown(loss):
            return float(np.sqrt(loss)) * scale if task == "number" else float(loss)

        self.curve = {"training": [shown(h["train_loss"]) for h in trained.history],
                      "held_out": [shown(h["loss"]) for h in trained.history]}
        self.notes = [n for n in trained.notes if "blew up" in n or "unstable" in n]
        self.diverged = trained.stopped == "training was unstable" or not np.isfinite(trained.best.get("loss", np.nan))
        self.epochs = int(np.ceil(trained.best.get("passes", trained.passes))) if trained.passes > 0 else 0
        return self

    def _forward(self, X_t, task):
        torch = _torch()
        self.module.eval()
        with torch.no_grad():
            out = self.module(X_t)
        if task == "number":
            return out[:, 0].numpy() * self.y_scale + self.y_mean
        return torch.softmax(out, dim=1).numpy()

    def predict(self, design, task):
        from mathless.networks.training import Rows

        rows = Rows(design.dense)
        _torch(len(rows))
        return np.concatenate([self._forward(rows[start:start + 65536], task) for start in range(0, len(rows), 65536)])

    def arrays(self) -> dict:
        return {k: v.numpy() for k, v in self.module.state_dict().items()}

    def meta(self) -> dict:
        return {"words": self.words, "inputs": self.inputs, "outputs": self.module[-1].out_features,
                "y_mean": self.y_mean, "y_scale": self.y_scale, "epochs": self.epochs,
                "text_spans": [list(span) for span in self.text_spans]}

    @classmethod
    def from_arrays(cls, arrays: dict, meta: dict) -> "Network":
        torch = _torch()
        spans = meta.get("text_spans", [])
        module = build(meta["words"], meta["inputs"], meta["outputs"], spans)
        module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
        module.eval()
        return cls(module, meta["y_mean"], meta["y_scale"], meta["epochs"], meta["words"], meta["inputs"], spans)
