"""Game commands (play, watch, games). Filled in by the games work."""


def register(app) -> None:
    return None
