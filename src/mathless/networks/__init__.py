"""Neural networks from plain layer words, and the one loop that trains them all.

- ``layers``: "conv 32", "pool", "dense 128" … parsed, checked and built into a
  PyTorch module, with every shape worked out.
- ``training``: the training loop shared by every neural learner (learning
  rate found automatically, early stopping, the best weights kept).
- ``mobilenet``: a pretrained MobileNetV2 backbone for transfer learning.
"""
