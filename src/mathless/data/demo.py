"""The built-in demo table: Palmer penguins (344 rows, CC0), shipped with a dependency.

It has numbers, categories and missing values, which is what a first run
should show.
"""


def demo_table():
    """(DataFrame, target column)."""
    from mathless.errors import UserError

    try:
        import palmerpenguins
    except ImportError:
        raise UserError("The demo needs the palmerpenguins package: pip install palmerpenguins.") from None
    return palmerpenguins.load_penguins(), "species"
