"""Learners for tables: preparation of columns, gradient-boosted trees, a linear
baseline and a small neural network, and the fit loop that picks the best."""
