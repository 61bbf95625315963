"""How good is a model: the numbers, and the verdict in plain words."""
