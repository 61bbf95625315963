"""A small neural network for tables: two layers of neurons, trained with early stopping.

Each neuron is a weighted sum of its inputs passed through an activation
(ReLU: negative becomes zero). Training nudges every weight a little in the
direction that lowers the error on a batch of rows, over and over; we keep the
weights that did best on held-out rows and stop when they stop improving.
"""

from __future__ import annotations

import os
import time

import numpy as np

NAME = "network"
TITLE = "neural network"
WORDS = ("dense 256", "dropout 0.1", "dense 128", "dropout 0.1")  # the default network, in layer words
MIN_STEPS = 50


def _torch(rows: int = 0):
    """PyTorch with a thread count that suits the work: small batches run best on one core."""
    import torch

    torch.set_num_threads(1 if rows < 50_000 else (os.cpu_count() or 1))
    return torch


def build(words, inputs: int, outputs: int, text_spans=None):
    """The network from its layer words (see mathless/networks/layers.py); the output layer is added."""
    from mathless.networks.layers import build_network

    module, _ = build_network(list(words), (inputs,), outputs, text_spans=text_spans)
    return module


def _dense(matrix, rows=None):
    part = matrix if rows is None else matrix[rows]
    return part.toarray() if hasattr(part, "toarray") else np.asarray(part)



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
        self.diverged = False

    def fit(self, design, y, val_design, y_val, task, classes, deadline, seed=0, weights=None):
        torch = _torch(design.dense.shape[0])
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        X, Xv = design.dense, val_design.dense
        rows, inputs = X.shape
        outputs = 1 if task == "number" else classes
        if task == "number":
            self.y_mean, self.y_scale = float(np.mean(y)), float(np.std(y) or 1.0)
            target = torch.tensor((np.asarray(y) - self.y_mean) / self.y_scale, dtype=torch.float32)
            loss_fn = torch.nn.MSELoss()
        else:
            target = torch.tensor(np.asarray(y), dtype=torch.long)
            loss_fn = torch.nn.CrossEntropyLoss()
        self.inputs, self.text_spans = int(inputs), list(design.text_spans)
        self.module = build(self.words, inputs, outputs, self.text_spans)
        # word vectors (`embedding`) get 10x larger steps: each word occurs in few rows, so it is seldom nudged
        words = [p for m in self.module if type(m).__name__ == "WordVectors" for p in m.parameters()]
        others = [p for p in self.module.parameters() if all(p is not w for w in words)]
        groups = [{"params": others}] + ([{"params": words, "lr": 1e-2, "weight_decay": 0.0}] if words else [])
        optimizer = torch.optim.AdamW(groups, lr=1e-3, weight_decay=1e-4)
        batch = int(min(1024, max(64, rows // 16)))
        patience = 20 if rows < 5000 else 5
        Xv_t = torch.tensor(_dense(Xv), dtype=torch.float32)
        X_full = None if hasattr(X, "toarray") else torch.tensor(np.asarray(X), dtype=torch.float32)
        best, best_state, since_best, epoch = np.inf, None, 0, 0
        self.curve = {"training": [], "held_out": []}
        steps = 0
        # the first pass always gets at least MIN_STEPS batches, so a tight budget still yields a network
        while (epoch == 0 or time.monotonic() < deadline) and since_best < patience and epoch < 1000:
            self.module.train()
            order = rng.permutation(rows)
            losses = []
            for start in range(0, rows, batch):
                index = order[start:start + batch]
                xb = X_full[index] if X_full is not None else torch.tensor(_dense(X, index), dtype=torch.float32)
                out = self.module(xb)
                loss = loss_fn(out[:, 0] if task == "number" else out, target[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                steps += 1
                if time.monotonic() > deadline and steps >= MIN_STEPS:
                    break
            epoch += 1
            held_out = self._loss(Xv_t, y_val, task)
            scale = self.y_scale if task == "number" else 1.0  # RMSE in the answer's own units
            self.curve["training"].append(float(np.sqrt(np.mean(losses))) * scale if task == "number" else float(np.mean(losses)))
            self.curve["held_out"].append(float(np.sqrt(held_out)) if task == "number" else held_out)
            if not np.isfinite(held_out):
                self.diverged = True
                break
            if held_out < best - 1e-6:
                best, since_best, self.epochs = held_out, 0, epoch
                best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            else:
                since_best += 1
        if best_state is not None:
            self.module.load_state_dict(best_state)
        self.module.eval()
        return self

    def _loss(self, Xv_t, y_val, task) -> float:
        predicted = self._forward(Xv_t, task)
        y_val = np.asarray(y_val)
        if task == "number":
            return float(np.mean((predicted - y_val) ** 2))
        return float(-np.mean(np.log(np.clip(predicted[np.arange(len(y_val)), y_val.astype(int)], 1e-7, 1))))

    def _forward(self, X_t, task):
        torch = _torch()
        self.module.eval()
        with torch.no_grad():
            out = self.module(X_t)
        if task == "number":
            return out[:, 0].numpy() * self.y_scale + self.y_mean
        return torch.softmax(out, dim=1).numpy()

    def predict(self, design, task):
        X = design.dense
        torch = _torch(X.shape[0])
        parts = []
        for start in range(0, X.shape[0], 65536):
            parts.append(self._forward(torch.tensor(_dense(X[start:start + 65536]), dtype=torch.float32), task))
        return np.concatenate(parts)

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
