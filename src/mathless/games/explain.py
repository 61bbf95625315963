"""Why a game agent makes one move, and what its network computes on the way.

The agent plays one game the way it is evaluated (sticky actions on Atari, moves
drawn from its chances for PPO), seeded so that the same game comes back every
time, up to the move asked for. Then, on what it sees at that moment:

- the moves: PPO's chance for each move and its critic's guess of the score still
  to come; DQN's guess of the score still to come after each move;
- what mattered: on pictures, each 8x8-pixel patch of the 64x64 picture is greyed
  out in turn (in all stacked pictures, set to the picture's most common shade, which
  is usually the background) and the drop in the chosen move's chance is measured;
  on a short list of numbers, each number is set to 0 in turn. For DQN the measure
  is the chosen move's lead over the next-best move;
- the network's first layers in numbers: one neuron's weighted sum (for a
  convolution, one filter's sum over its window at its strongest position), the
  activation, and how the output becomes the move chances.
Every number is computed from the real network on the real picture.
"""

from __future__ import annotations

import re

import numpy as np

from mathless.errors import UserError
from mathless.games.doctor import points

PATCH = 8  # pixels per side of a greyed-out patch (the picture is 64x64: an 8x8 grid of patches)
LONGEST_GAME = 27_000  # moves: 30 minutes of Atari play, 4 frames per move (environments.MAX_FRAMES_PER_GAME)
DETAILED_LAYERS = 2  # layers walked through neuron by neuron; the rest get one line each

# What the numbers of the small Gymnasium games mean, and their moves (from Gymnasium's documentation).
INPUT_NAMES = {
    "CartPole": ["cart position", "cart speed", "pole angle", "pole turning speed"],
    "Acrobot": ["cos of the top joint's angle", "sin of the top joint's angle", "cos of the middle joint's angle",
                "sin of the middle joint's angle", "top joint's turning speed", "middle joint's turning speed"],
    "LunarLander": ["x position", "y position", "x speed", "y speed", "angle", "turning speed",
                    "left leg touching", "right leg touching"],
    "MountainCar": ["position", "speed"],
}
MOVE_NAMES = {
    "CartPole": ["push left", "push right"],
    "Acrobot": ["push the middle joint one way", "don't push", "push the middle joint the other way"],
    "LunarLander": ["do nothing", "fire the left engine", "fire the main engine", "fire the right engine"],
    "MountainCar": ["push left", "don't push", "push right"],
}


def explain(agent, row: int = 1, quiet: bool = False, seed: int = 7) -> dict:
    from rich.console import Console

    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or row < 1:
        raise UserError(f"The move to explain must be a whole number of at least 1 (got {row!r}).")
    row = int(row)
    if agent.game.pixels and row > LONGEST_GAME:
        raise UserError(f"An Atari game lasts at most {LONGEST_GAME:,} moves (30 minutes of play); "
                        f"pick a move from 1 to {LONGEST_GAME:,}.")
    agent.network.eval()
    observation, moves = _position(agent, row, seed)
    result = {"game": agent.game.name, "algorithm": agent.algorithm, "move": row, "seed": seed}
    result.update(_moves(agent, observation, moves))
    chosen = moves.index(result["chosen"])
    if agent.game.pixels:
        result.update(_pixels_that_mattered(agent, observation, chosen, result["chosen"]))
    else:
        result.update(_numbers_that_mattered(agent, observation, chosen, result["chosen"]))
    result.update(_walk(agent, observation, chosen, moves))
    console = Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)
    console.print(f"[bold]Move {row:,} of a game of {agent.game.name} (seed {seed}), played as when evaluating[/bold]")
    console.print("\n".join(result["why"]), markup=False)
    console.print("\n[bold]What mattered[/bold]")
    console.print("\n".join(result["mattered"]), markup=False)
    console.print("\n[bold]What the network computes on this position[/bold]")
    console.print("\n".join(result["network"]), markup=False)
    return result


# ---- the game up to the move ------------------------------------------------------

def _position(agent, row: int, seed: int):
    """What the agent sees before its move number ``row``, and the names of its moves."""
    import torch

    from mathless.games.environments import STICKY_EVALUATION, make_atari, make_gymnasium

    if agent.game.pixels:
        envs = make_atari(agent.game, 1, seed, sticky=STICKY_EVALUATION, threads=1, screen=agent.screen)
        moves = [atari_move_name(action.name) for action in envs.ale.get_action_set()]
    else:
        envs = make_gymnasium(agent.game, 1)
        moves = move_names(agent.game, agent.network_config["actions"])
    try:
        with torch.random.fork_rng():  # PPO draws its moves: the same seed gives the same game
            torch.manual_seed(seed)
            observation, _ = envs.reset(seed=seed)
            for move in range(1, row):
                observation, _, terminated, truncated, _ = envs.step(agent.act(observation))
                if terminated[0] or truncated[0]:
                    raise UserError(f"This game (seed {seed}) ended after {move:,} moves, before move {row:,}. "
                                    f"Pick a move from 1 to {move:,}.")
    finally:
        envs.close()
    return np.asarray(observation[0]), moves


def atari_move_name(name: str) -> str:
    """ale-py's joystick names in words: 'UPRIGHTFIRE' -> 'up-right + fire', 'NOOP' -> 'do nothing'."""
    if name == "NOOP":
        return "do nothing"
    fire = name.endswith("FIRE")
    directions = "-".join(re.findall("UP|DOWN|LEFT|RIGHT", name[:-4] if fire else name)).lower()
    return " + ".join(part for part in (directions, "fire" if fire else "") if part)


def move_names(game, actions: int) -> list:
    known = MOVE_NAMES.get(game.env_id.split("-v")[0])
    return known if known and len(known) == actions else [f"move {i}" for i in range(actions)]


def input_names(game, size: int) -> list:
    known = INPUT_NAMES.get(game.env_id.split("-v")[0])
    return known if known and len(known) == size else [f"number {i + 1}" for i in range(size)]


# ---- the moves ----------------------------------------------------------------------

def _outputs(agent, observations):
    """The network on a batch: (PPO's chances, or DQN's move guesses; PPO's value guesses or None)."""
    import torch

    x = torch.as_tensor(np.asarray(observations))
    if not agent.game.pixels:
        x = x.float()
    with torch.no_grad():
        if agent.algorithm == "ppo":
            logits, values = agent.network(x)
            return torch.softmax(logits, dim=1).numpy(), values.numpy()
        return agent.network(x).numpy(), None


def _preference(agent, outputs, chosen: int) -> np.ndarray:
    """How strongly the agent wants the chosen move: its chance (PPO) or its lead over the next-best move (DQN)."""
    if agent.algorithm == "ppo":
        return outputs[:, chosen]
    others = np.delete(outputs, chosen, axis=1)
    return outputs[:, chosen] - (others.max(axis=1) if others.shape[1] else 0.0)


def _moves(agent, observation, moves) -> dict:
    outputs, values = _outputs(agent, observation[None])
    outputs = outputs[0]
    chosen = moves[int(np.argmax(outputs))]
    order = np.argsort(-outputs)
    gamma = agent.settings.get("gamma", 0.99)
    discount = f"future points count less the further ahead they are: one 100 moves ahead counts {gamma ** 100:.0%}"
    clipped = agent.settings.get("clip_rewards", agent.game.pixels)
    unit = " Each point is counted as +1 or -1, as in learning." if clipped else ""
    if agent.algorithm == "ppo":
        listed = ", ".join(f"{moves[i]} {outputs[i]:.0%}" for i in order)
        kind = "joystick move" if agent.game.pixels else "move"
        why = [f"The agent's chances for each {kind}: {listed}.",
               f"It draws its move with these chances, so it most often makes '{chosen}' here "
               f"({outputs.max():.0%} of the time).",
               f"The critic (the network's second output) guesses the score still to come from here: "
               f"{values[0]:.3g} ({discount}).{unit}"]
        return {"chosen": chosen, "chances": {moves[i]: float(outputs[i]) for i in range(len(moves))},
                "value": float(values[0]), "why": why}
    listed = ", ".join(f"{moves[i]} {outputs[i]:.3g}" for i in order)
    why = [f"The network's guess of the score still to come after each move, if it plays well afterwards "
           f"({discount}): {listed}.{unit}",
           f"It makes the move with the highest guess, '{chosen}' (and a random move 1 time in 100)."]
    return {"chosen": chosen, "move_guesses": {moves[i]: float(outputs[i]) for i in range(len(moves))}, "why": why}


# ---- what mattered -------------------------------------------------------------------

def where(row: float, column: float, height: int, width: int) -> str:
    """A spot on the screen in words: 'the top-right of the screen'."""
    vertical = ("top", "middle", "bottom")[min(2, int(3 * row / height))]
    horizontal = ("left", "centre", "right")[min(2, int(3 * column / width))]
    if (vertical, horizontal) == ("middle", "centre"):
        return "the centre of the screen"
    if vertical == "middle":
        return f"the {horizontal} side of the screen"
    if horizontal == "centre":
        return f"the {vertical} of the screen"
    return f"the {vertical}-{horizontal} of the screen"


def _pixels_that_mattered(agent, observation, chosen: int, chosen_name: str) -> dict:
    stack, height, width = observation.shape
    shades = [int(np.bincount(frame.ravel(), minlength=256).argmax()) for frame in observation]
    spots, batch = [], []
    for top in range(0, height, PATCH):
        for left in range(0, width, PATCH):
            greyed = observation.copy()
            for k in range(stack):
                greyed[k, top:top + PATCH, left:left + PATCH] = shades[k]
            spots.append((top, left))
            batch.append(greyed)
    outputs, _ = _outputs(agent, np.stack([observation] + batch))
    preference = _preference(agent, outputs, chosen)
    base, drops = float(preference[0]), preference[0] - preference[1:]
    grid = drops.reshape(height // PATCH, width // PATCH)
    ppo = agent.algorithm == "ppo"
    measure = f"the chance of '{chosen_name}'" if ppo else f"the lead of '{chosen_name}' over the next-best move"
    shown = (lambda v: f"{v:.1%}") if ppo else (lambda v: f"{v:.3g}")
    small = 0.01 if ppo else 0.01 * max(abs(base), 1e-6)  # 1 point of chance, or 1% of the lead
    lines = [f"Each {PATCH}x{PATCH}-pixel patch of the {height}x{width} picture the agent sees was greyed out in turn "
             f"(in all {stack} stacked pictures), and {measure} measured again; it is {shown(base)} as it is. "
             f"The patches that lowered it most:"]
    strongest = [i for i in np.argsort(-drops)[:3] if drops[i] > 0]
    for i in strongest:
        top, left = spots[i]
        lines.append(f"  Pixel rows {top + 1}-{top + PATCH}, columns {left + 1}-{left + PATCH} "
                     f"({where(top + PATCH / 2, left + PATCH / 2, height, width)}): greyed out, it falls to "
                     f"{shown(base - drops[i])}.")
    regions: dict = {}
    for (top, left), drop in zip(spots, drops):
        if drop > 0:
            name = where(top + PATCH / 2, left + PATCH / 2, height, width)
            regions[name] = regions.get(name, 0.0) + float(drop)
    total = sum(regions.values())
    if not strongest or drops.max() <= small:
        lines.append(f"No patch lowers it by more than {'1 point' if ppo else shown(small)}: nothing in particular "
                     f"on the screen decides this move (an agent that has barely trained is like this).")
    if total > 0:
        ranked = sorted(regions.items(), key=lambda item: -item[1])[:3]
        lines.append("Summed over the patches, what mattered most: "
                     + ", ".join(f"{name} ({share / total:.0%})" for name, share in ranked) + ".")
    quiet_patches = int((np.abs(drops) <= small).sum())
    lines.append(f"{quiet_patches} of the {len(drops)} patches change it by {shown(small)} or less.")
    return {"mattered": lines, "patch_drops": grid.round(4).tolist()}


def _numbers_that_mattered(agent, observation, chosen: int, chosen_name: str) -> dict:
    names = input_names(agent.game, len(observation))
    batch = [observation.astype(np.float32)]
    for i in range(len(observation)):
        zeroed = observation.astype(np.float32).copy()
        zeroed[i] = 0.0
        batch.append(zeroed)
    outputs, _ = _outputs(agent, np.stack(batch))
    preference = _preference(agent, outputs, chosen)
    base = float(preference[0])
    ppo = agent.algorithm == "ppo"
    measure = f"the chance of '{chosen_name}'" if ppo else f"the lead of '{chosen_name}' over the next-best move"
    shown = (lambda v: f"{v:.0%}") if ppo else (lambda v: f"{v:.3g}")
    lines = [f"The agent sees {len(observation)} numbers; each was set to 0 in turn and {measure} measured again "
             f"(it is {shown(base)} as it is). Largest effect first:"]
    effects = {}
    for i in np.argsort(-np.abs(preference[1:] - base)):
        value, changed = float(observation[i]), float(preference[1 + i])
        effects[names[i]] = {"value": value, "if_zero": changed}
        if value == 0:
            lines.append(f"  {names[i]} = 0: already 0.")
        else:
            lines.append(f"  {names[i]} = {value:.3g}: if it were 0, {shown(changed)} instead "
                         f"({(changed - base) * (100 if ppo else 1):+.3g}{' points' if ppo else ''}).")
    return {"mattered": lines, "input_effects": effects}


# ---- the network's arithmetic -------------------------------------------------------

def _parts(agent):
    """(the layers from input to features, in order; the output layer that scores the moves)."""
    network = agent.network
    body, head = (network.body, network.actor) if agent.algorithm == "ppo" else (network[0], network[1])
    layers = [m for m in body.modules() if not list(m.children())]
    return layers, head


def _walk(agent, observation, chosen: int, moves) -> dict:
    import torch

    layers, head = _parts(agent)
    names = None if agent.game.pixels else input_names(agent.game, len(observation))
    x = torch.as_tensor(observation[None])
    if not agent.game.pixels:
        x = x.float()
        lines = ["The numbers it sees: " + ", ".join(f"{n} = {v:.3g}" for n, v in zip(names, observation)) + "."]
    else:
        lines = [f"It sees {observation.shape[0]} stacked gray pictures of {observation.shape[1]}x"
                 f"{observation.shape[2]} pixels (the last {observation.shape[0]} moments of the game), "
                 f"{observation.size:,} numbers from 0 (black) to 255 (white)."]
    detailed, convs, denses, shown_unit, record = 0, 0, 0, None, []
    with torch.no_grad():
        for layer in layers:
            kind = type(layer).__name__
            before = x
            x = layer(x)
            if kind == "Scale":
                lines.append("Scale: each pixel is divided by 255, so the network works with numbers from 0 to 1.")
            elif kind == "Conv2d":
                convs += 1
                if detailed < DETAILED_LAYERS:
                    detailed += 1
                    text, shown_unit, numbers = _conv_step(layer, before, x, convs)
                    lines += text
                    record.append(numbers)
                else:
                    shown_unit = None
                    lines.append(f"conv {convs}: {layer.out_channels} filters of {layer.kernel_size[0]}x"
                                 f"{layer.kernel_size[1]} over the {layer.in_channels} maps before it → "
                                 f"{layer.out_channels} maps of {x.shape[2]}x{x.shape[3]}.")
            elif kind == "Linear":
                denses += 1
                if detailed < DETAILED_LAYERS:
                    detailed += 1
                    if denses > 1:
                        labels = [f"neuron {i + 1} of dense {denses - 1}" for i in range(layer.in_features)]
                    else:
                        labels = names or [f"number {i + 1} of the flattened maps" for i in range(layer.in_features)]
                    text, shown_unit, numbers = _dense_step(layer, before, x, f"dense {denses}", labels)
                    lines += text
                    record.append(numbers)
                else:
                    shown_unit = None
                    lines.append(f"dense {denses}: {layer.out_features} neurons, each a weighted sum of all "
                                 f"{layer.in_features:,} numbers before it plus a bias.")
            elif kind == "Flatten":
                lines.append(f"flatten: the {before.shape[1]} maps of {before.shape[2]}x{before.shape[3]} "
                             f"become one list of {x.shape[1]:,} numbers.")
            else:
                lines.append("  " + _activation(kind, before, x, shown_unit))
                shown_unit = None
        features = x
        scores = head(features)
    last = f"neuron {{}} of dense {denses}" if denses else "feature {}"
    labels = [last.format(i + 1) for i in range(head.in_features)]
    text, _, numbers = _dense_step(head, features, scores, "output", labels, pick=chosen, moves=moves)
    lines += text
    record.append(numbers)
    scores = scores.numpy()[0]
    if agent.algorithm == "ppo":
        chances = np.exp(scores - scores.max())
        chances /= chances.sum()
        lines.append("Softmax turns the move scores into chances that add up to 100% (e to the power of each "
                     "score, divided by their total): " + ", ".join(
                         f"{m} {s:.3g} → {c:.1%}" for m, s, c in zip(moves, scores, chances)) + ".")
        if not agent.network.shared:
            lines.append("The critic's guess comes from a second set of layers of the same shape, which reads "
                         "the same numbers.")
    else:
        lines.append("These output numbers are the guesses of the score still to come after each move; "
                     "the agent makes the move with the highest.")
    return {"network": lines, "layers": record}


def _terms_text(weights, inputs, labels, keep: int = 3):
    """'w×x (label) + ... + rest (the other n terms)' for the biggest terms of a weighted sum."""
    terms = weights * inputs
    flat = terms.ravel()
    if flat.size <= 6:
        big = list(range(flat.size))
    else:
        big = list(np.argsort(-np.abs(flat))[:keep])
    parts = [f"{weights.ravel()[i]:.3g}×{inputs.ravel()[i]:.3g} ({labels(i)})" for i in big]
    rest = float(flat.sum() - flat[big].sum())
    if flat.size > len(big):
        parts.append(f"{rest:.3g} (the other {flat.size - len(big):,} terms)")
    used = [[float(weights.ravel()[i]), float(inputs.ravel()[i])] for i in big]
    return " + ".join(parts), used, rest


def _conv_step(layer, before, after, number: int):
    out = after.numpy()[0]
    inputs = before.numpy()[0]
    filt, r, c = np.unravel_index(int(out.argmax()), out.shape)
    size, stride = layer.kernel_size[0], layer.stride[0]
    window = inputs[:, r * stride:r * stride + size, c * stride:c * stride + size]
    weights = layer.weight.detach().numpy()[filt]
    bias = float(layer.bias.detach().numpy()[filt])
    what = "picture" if number == 1 else "map"

    def label(i):
        k, y, x = np.unravel_index(i, window.shape)
        return f"{what} {k + 1}, row {r * stride + y + 1}, column {c * stride + x + 1}"

    text, used, rest = _terms_text(weights, window, label)
    value = float(out[filt, r, c])
    spot = ""
    if number == 1:
        spot = f" ({where(r * stride + size / 2, c * stride + size / 2, inputs.shape[1], inputs.shape[2])})"
    lines = [f"conv {number}: {layer.out_channels} filters; each slides a {size}x{size} window over the "
             f"{layer.in_channels} {what}s before it, {stride} pixel{'s' if stride > 1 else ''} at a time, and at "
             f"every position adds up its {layer.in_channels * size * size:,} weighted numbers plus a bias "
             f"→ {layer.out_channels} maps of {out.shape[1]}x{out.shape[2]}.",
             f"  Filter {filt + 1} responds most at rows {r * stride + 1}-{r * stride + size}, columns "
             f"{c * stride + 1}-{c * stride + size} of the {what}s{spot}: {text} + bias {bias:.3g} = {value:.4g}."]
    numbers = {"layer": f"conv {number}", "unit": int(filt), "position": [int(r), int(c)], "terms": used,
               "rest": rest, "bias": bias, "value": value}
    return lines, ((int(filt), int(r), int(c)), f"filter {filt + 1} there"), numbers


def _dense_step(layer, before, after, title, names, pick=None, moves=None):
    out = after.numpy()[0]
    inputs = before.numpy()[0]
    unit = int(out.argmax()) if pick is None else int(pick)
    weights = layer.weight.detach().numpy()[unit]
    bias = float(layer.bias.detach().numpy()[unit])
    text, used, rest = _terms_text(weights, inputs, lambda i: names[i])
    value = float(out[unit])
    if moves is not None:
        lines = [f"output: one score per move, each a weighted sum of the {layer.in_features:,} numbers before "
                 f"it plus a bias. For '{moves[unit]}': {text} + bias {bias:.3g} = {value:.4g}."]
    else:
        lines = [f"{title}: {layer.out_features} neurons, each a weighted sum of the {layer.in_features:,} "
                 f"numbers before it plus a bias.",
                 f"  Neuron {unit + 1} (the most active): {text} + bias {bias:.3g} = {value:.4g}."]
    numbers = {"layer": title, "unit": unit, "terms": used, "rest": rest, "bias": bias, "value": value}
    return lines, ((unit,), f"neuron {unit + 1}"), numbers


def _activation(kind: str, before, after, unit) -> str:
    """One line for an activation, with the value of the unit shown just before."""
    b, a = before.numpy()[0], after.numpy()[0]
    example = ""
    if unit is not None:
        index, name = unit
        example = f"; {name}: {b[index]:.4g} → {a[index]:.4g}"
    if kind == "ReLU":
        return (f"ReLU: negative sums become 0, the rest stay ({int((a > 0).sum()):,} of {a.size:,} "
                f"values are above 0{example}).")
    if kind == "Tanh":
        return f"Tanh: each value is squeezed into -1…1 (big values end near ±1{example})."
    return f"{kind}: each value is transformed{example}."
