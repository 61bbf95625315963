"""The `embedding N` layer word for tables: a learned vector of numbers for every word of a text."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class WordVectors(nn.Module):
    """`embedding N` for tables: every word of a text column gets a learned vector of N numbers.

    The text arrives as its word counts (TF-IDF: how often each word occurs, less for
    common words, scaled so long and short texts weigh the same), so the text's vector
    is its words' vectors added up, each weighted by its count: one matrix product per
    text column (a "bag of word vectors", as in fastText). Words and word pairs both
    get vectors. The other columns pass through unchanged, in front.
    """

    def __init__(self, inputs: int, spans, size: int):
        super().__init__()
        self.spans = [(int(start), int(end)) for start, end in spans]
        in_text = np.zeros(inputs, dtype=bool)
        for start, end in self.spans:
            in_text[start:end] = True
        self.register_buffer("others", torch.from_numpy(np.flatnonzero(~in_text)), persistent=False)
        self.words = nn.ModuleList(nn.Linear(end - start, size, bias=False) for start, end in self.spans)
        for layer in self.words:
            nn.init.normal_(layer.weight, std=0.5)
        self.outputs = int((~in_text).sum()) + size * len(self.spans)

    def forward(self, x):
        parts = [x.index_select(1, self.others)]
        parts += [layer(x[:, start:end]) for layer, (start, end) in zip(self.words, self.spans)]
        return torch.cat(parts, dim=1)
