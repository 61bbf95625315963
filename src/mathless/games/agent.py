"""A trained game agent: play with it, judge it, watch it, save it, load it back.

A run folder is plain data, readable without running any code from it:
- manifest.json: the game, the algorithm, the network's shape, how long it trained
  (and the SHA-256 of every other file, checked when loading);
- weights.safetensors: the network; optimizer.safetensors: the learning state, so
  ``--resume`` carries on smoothly;
- curve.csv: every finished game (minutes, agent steps, frames, score), which is
  also the score history a resumed run continues;
- curve.png: the learning curve, score against minutes and against frames.

Judging it in words lives next door: doctor.py (what went wrong in training),
report.py (the terminal summary and the web page), explain.py (why this move).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from mathless.errors import UserError
from mathless.games.catalog import Game

CURVE_COLUMNS = ["game_number", "minutes", "agent_steps", "frames", "score", "average_of_last_100"]
ALGORITHMS = ("ppo", "dqn")


class Agent:
    """A network that picks moves for one game, plus the record of how it learned."""

    def __init__(self, game: Game, algorithm: str, network_config: dict, network=None,
                 history=None, steps: int = 0, minutes: float = 0.0, optimizer_state=None,
                 settings: dict | None = None):
        from mathless.games import networks

        self.game = game
        self.algorithm = algorithm
        self.network_config = network_config
        self.network = network if network is not None else networks.build(algorithm, network_config)
        self.history = list(history or [])  # one (minutes, agent steps, score) per finished game
        self.steps = int(steps)
        self.minutes = float(minutes)
        self.optimizer_state = optimizer_state
        self.settings = dict(settings or {})
        self.folder = None  # where it was loaded from, so advice can name it
        # Set when training ended worse than its best stretch and that network was kept instead:
        # {"minutes", "agent_steps", "score" (mean of "games" games in a row), "games", "last_score"}.
        self.kept = None
        # How the network ran fastest when last trained (networks.Pace): precision and threads.
        self.pace = None
        self._random_scores = {}  # random play measured once per (games, seed)

    # ----- playing -------------------------------------------------------------------
    @property
    def screen(self) -> tuple[int, int]:
        """The picture size (height, width) this agent learned on; games are shown to it at that size."""
        from mathless.games.environments import SCREEN

        if self.network_config.get("kind") == "pixels":
            return tuple(int(n) for n in self.network_config["input"][1:])
        return (SCREEN, SCREEN)  # not used: small-state games have no pictures

    @property
    def frames_per_step(self) -> int:
        from mathless.games.environments import FRAME_SKIP

        return FRAME_SKIP if self.game.family == "atari" else 1

    def act(self, observations, greedy: bool = False) -> np.ndarray:
        """Moves for a batch of observations."""
        import torch

        device = next(self.network.parameters()).device
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(observations), device=device)
            if self.game.family != "atari":
                x = x.float()
            if self.algorithm == "ppo":
                logits, _ = self.network(x)
                if greedy:
                    actions = logits.argmax(dim=1)
                else:
                    actions = torch.distributions.Categorical(logits=logits).sample()
            else:
                actions = self.network(x).argmax(dim=1)
                explore = torch.rand(len(actions), device=device) < (0.0 if greedy else 0.01)
                actions = torch.where(explore, torch.randint_like(actions, self.network_config["actions"]), actions)
        return actions.cpu().numpy()

    def recent_score(self, last: int = 100):
        if not self.history:
            return None
        return float(np.mean([score for _, _, score in self.history[-last:]]))

    # ----- judging -------------------------------------------------------------------
    def evaluate(self, episodes: int = 10, seed: int = 1_000_003) -> dict:
        """Play ``episodes`` whole games and compare the score with random play and humans."""
        from mathless.games.environments import STICKY_EVALUATION, play_games

        if not isinstance(episodes, int) or episodes < 1:
            raise UserError(f"episodes must be a whole number of at least 1 (got {episodes!r}).")
        self.network.eval()
        scores = play_games(self.game, self.act, episodes, seed=seed, screen=self.screen)
        random_scores, random_source = self._random_reference(episodes, seed)
        mean, spread = float(np.mean(scores)), float(np.std(scores))
        result = {
            "game": self.game.name,
            "episodes": episodes,
            "mean": round(mean, 2),
            "spread": round(spread, 2),
            "lowest": min(scores),
            "highest": max(scores),
            "scores": scores,
            "random_play": random_scores,
            "random_play_source": random_source,
            "protocol": self._protocol(),
        }
        reference = self.game.reference()
        if reference:
            human = reference[1]
            result["human_tester"] = human
            result["human_normalized"] = round((mean - reference[0]) / (human - reference[0]), 3)
        result["verdict"] = self._verdict(result)
        return result

    def _protocol(self) -> str:
        if self.game.family == "atari":
            return ("whole games (all lives), up to 30 minutes of play each, 0-30 no-op starts, "
                    "sticky actions with probability 0.25 (Machado et al. 2018), moves "
                    + ("sampled from the agent's policy" if self.algorithm == "ppo" else "chosen greedily (1% random)"))
        return "whole episodes as Gymnasium defines them, moves " + (
            "sampled from the agent's policy" if self.algorithm == "ppo" else "chosen greedily (1% random)")

    def _random_reference(self, episodes: int, seed: int):
        reference = self.game.reference()
        if reference:
            return reference[0], "Mnih et al. 2015 (DQN paper)"
        from mathless.games.environments import play_games

        games = min(episodes, 10)
        if (games, seed) not in self._random_scores:
            actions = self.network_config["actions"]
            rng = np.random.default_rng(seed)
            scores = play_games(self.game, lambda obs: rng.integers(0, actions, len(obs)), games, seed=seed)
            self._random_scores[games, seed] = round(float(np.mean(scores)), 2)
        return self._random_scores[games, seed], f"measured now over {games} games"

    def findings(self) -> list:
        """The doctor's findings about how training went, most serious first (empty when all is well)."""
        from mathless.games.doctor import examine

        return examine(self)

    def report(self, html=None, overwrite: bool = False, quiet: bool = False, episodes: int | None = None):
        """Print how the agent learned and how well it plays (evaluated over ``episodes`` games:
        3 for Atari, 10 for small games unless told); with ``html=`` also write one web page."""
        from mathless.games.report import report

        return report(self, html=html, overwrite=overwrite, quiet=quiet, episodes=episodes)

    def explain(self, data=None, row: int = 1, quiet: bool = False, seed: int = 7) -> dict:
        """Why the agent makes move number ``row`` of a game it plays now, and the network's arithmetic."""
        from mathless.games.explain import explain

        if data is not None:
            raise UserError("A game agent explains a move of a game it plays itself, so it takes no data file: "
                            "pick the move with row (--row on the command line), "
                            "e.g. 'mathless explain runs/pong --row 200'.")
        return explain(self, row=row, quiet=quiet, seed=seed)

    def _verdict(self, result: dict) -> str:
        mean, spread = result["mean"], result["spread"]
        text = (f"{self.game.name}: mean score {mean:g} over {result['episodes']} games "
                f"(typically within ±{spread:g}; lowest {result['lowest']:g}, highest {result['highest']:g}). "
                f"Random play scores {result['random_play']:g}")
        if "human_tester" in result:
            human, share = result["human_tester"], result["human_normalized"]
            text += f" and the human tester in the DQN paper {human:g} (Mnih et al. 2015). "
            if share >= 1:
                text += f"This agent beats the human tester's average: it gets {share:.0%} of the way from random play to the human level."
            elif share > 0.05:
                text += f"This agent gets {share:.0%} of the way from random play to the human tester's level."
            else:
                text += "This agent plays about as well as random so far: train it longer."
        else:
            text += "."
            if mean > result["random_play"] + max(1.0, abs(result["random_play"]) * 0.1):
                text += " The agent clearly beats random play."
            else:
                text += " The agent is not clearly better than random play yet: train it longer."
        return text

    # ----- watching ------------------------------------------------------------------
    def watch(self, path, seed: int = 7, max_seconds: float = 300.0, overwrite: bool = True) -> Path:
        """Write a video (.mp4) or animated picture (.gif) of the agent playing one game."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".gif", ".mp4"):
            raise UserError(f"Can write a .gif or an .mp4, not '{path.name}'. Give a name ending in .gif or .mp4.")
        if path.exists() and not overwrite:
            raise UserError(f"'{path}' already exists. Choose another name, or add --overwrite to replace it.")
        self.network.eval()
        fps = 15 if self.game.family == "atari" else 30
        frames = self._frames(seed, int(max_seconds * fps))
        if not frames:
            raise UserError(f"{self.game.name} produced no pictures to record.")
        _write_video(path, frames, fps)
        return path

    def _frames(self, seed: int, limit: int, every: int = 1) -> list:
        """The full-colour pictures of one game (at most ``limit`` moves), keeping every ``every``-th."""
        if self.game.family == "atari":
            from mathless.games.environments import STICKY_EVALUATION, make_atari

            # Two copies of the same emulator, same seed, same moves: one shows the agent what
            # it learned on (small gray pictures), the other keeps the full colour picture.
            seen = make_atari(self.game, 1, seed, sticky=STICKY_EVALUATION, threads=1, screen=self.screen)
            shown = make_atari(self.game, 1, seed, sticky=STICKY_EVALUATION, threads=1,
                               screen=(210, 160), stack=1, grayscale=False)
            observation, _ = seen.reset(seed=seed)
            picture, _ = shown.reset(seed=seed)
            frames = [picture[0, 0]]
            for move in range(1, limit + 1):
                actions = self.act(observation)
                observation, _, terminated, truncated, _ = seen.step(actions)
                picture, _, shown_terminated, shown_truncated, info = shown.step(actions)
                if terminated[0] or truncated[0] or shown_terminated[0] or shown_truncated[0]:
                    break
                if move % every == 0:
                    frames.append(picture[0, 0])
            seen.close()
            shown.close()
            return frames
        import gymnasium

        env = gymnasium.make(self.game.env_id, render_mode="rgb_array")
        observation, _ = env.reset(seed=seed)
        try:
            frames = [env.render()]
        except gymnasium.error.DependencyNotInstalled as error:
            env.close()
            raise UserError(f"Drawing {self.game.name} needs a library that is not installed ({error}).") from None
        for move in range(1, limit + 1):
            observation, _, terminated, truncated, _ = env.step(int(self.act(observation[None])[0]))
            if move % every == 0:
                frames.append(env.render())
            if terminated or truncated:
                break
        env.close()
        return frames

    # ----- saving --------------------------------------------------------------------
    def save(self, folder, overwrite: bool = False) -> Path:
        """Write the run folder atomically (a crash mid-save leaves the old one intact)."""
        from safetensors.torch import save_file

        from mathless.storage.folder import atomic_folder, write_manifest

        folder = Path(folder)
        weights = {name: tensor.detach().cpu().contiguous() for name, tensor in self.network.state_dict().items()}
        with atomic_folder(folder, overwrite=overwrite) as staging:
            save_file(weights, str(staging / "weights.safetensors"))
            optimizer_groups = None
            if self.optimizer_state:
                tensors, optimizer_groups = _flatten_optimizer(self.optimizer_state)
                save_file(tensors, str(staging / "optimizer.safetensors"))
            self._write_curve(staging)
            manifest = {
                "kind": "agent",
                "game": self.game.to_dict(),
                "algorithm": self.algorithm,
                "network": self.network_config,
                "agent_steps": self.steps,
                "frames": self.steps * self.frames_per_step,
                "minutes_trained": round(self.minutes, 3),
                "games_played": len(self.history),
                "recent_score": self.recent_score(),
                "best_game_score": max((s for _, _, s in self.history), default=None),
                "settings": self.settings,
                "kept_best": self.kept,
                "pace": self.pace,
                "optimizer_groups": optimizer_groups,
            }
            write_manifest(staging, manifest)
        return folder

    def _write_curve(self, folder: Path) -> None:
        scores = [s for _, _, s in self.history]
        with open(folder / "curve.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CURVE_COLUMNS)
            for i, (minutes, steps, score) in enumerate(self.history):
                average = float(np.mean(scores[max(0, i - 99): i + 1]))
                writer.writerow([i + 1, f"{minutes:.4f}", steps, steps * self.frames_per_step, f"{score:g}", f"{average:.3f}"])
        plot_curve(self.history, self.frames_per_step, folder / "curve.png", title=f"{self.game.name} ({self.algorithm.upper()})")

    @classmethod
    def load(cls, folder) -> "Agent":
        """Rebuild an agent from its folder; only data is read, no code runs."""
        from safetensors.torch import load_file

        from mathless.storage.folder import read_manifest

        folder = Path(folder)
        manifest = read_manifest(folder, expected_kind="agent")
        try:
            game = Game.from_dict(manifest["game"])
            algorithm = manifest["algorithm"]
            config = manifest["network"]
            if algorithm not in ALGORITHMS:
                raise KeyError(algorithm)
            weights = load_file(str(folder / "weights.safetensors"))
            agent = cls(game, algorithm, config, steps=manifest["agent_steps"],
                        minutes=manifest["minutes_trained"], settings=manifest.get("settings"))
            agent.network.load_state_dict(weights)
            if (folder / "optimizer.safetensors").exists() and manifest.get("optimizer_groups"):
                agent.optimizer_state = _unflatten_optimizer(
                    load_file(str(folder / "optimizer.safetensors")), manifest["optimizer_groups"])
            agent.history = _read_curve(folder / "curve.csv")
            agent.kept = manifest.get("kept_best")
            agent.pace = manifest.get("pace")
            agent.folder = folder
        except UserError:
            raise
        except Exception as error:
            raise UserError(
                f"The run folder '{folder}' could not be read back ({type(error).__name__}: {error}). "
                f"It may come from another version of mathless; train again with 'mathless play'."
            ) from None
        return agent

    def summary(self) -> dict:
        return {
            "game": self.game.name, "algorithm": self.algorithm, "agent_steps": self.steps,
            "frames": self.steps * self.frames_per_step, "minutes_trained": round(self.minutes, 2),
            "games_played": len(self.history), "recent_score": self.recent_score(),
        }

    def __repr__(self) -> str:
        score = self.recent_score()
        score_text = "no games yet" if score is None else f"recent score {score:.1f}"
        return f"<Agent {self.game.name} {self.algorithm.upper()}: {self.steps:,} steps, {self.minutes:.1f} min, {score_text}>"


def _read_curve(path: Path) -> list:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [(float(row["minutes"]), int(row["agent_steps"]), float(row["score"])) for row in csv.DictReader(handle)]


def _flatten_optimizer(state: dict):
    """torch optimizer state -> (flat tensors for safetensors, JSON-able rest)."""
    import torch

    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{index}.{key}"] = tensor.detach().cpu().contiguous()
    return tensors, json.loads(json.dumps(state["param_groups"], default=float))


def _unflatten_optimizer(tensors: dict, groups: list) -> dict:
    state: dict = {}
    for name, tensor in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    return {"state": state, "param_groups": groups}


def plot_curve(history, frames_per_step: int, path: Path, title: str = "") -> None:
    """The learning curve as a picture file (curve.png in the run folder)."""
    figure = curve_figure(history, frames_per_step, title)
    figure.savefig(path, dpi=80)
    import matplotlib.pyplot as plt

    plt.close(figure)


def curve_figure(history, frames_per_step: int, title: str = "", levels=(), window: int = 100):
    """Score against minutes and against frames: each game a dot, the mean of the last ``window`` games a line.

    ``levels``: (label, score) pairs drawn as dashed lines, such as random play and the human tester.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_time, by_frames) = plt.subplots(1, 2, figsize=(11, 4))
    for axis, label in ((by_time, "minutes of training"), (by_frames, "million frames")):
        axis.set_xlabel(label)
        axis.set_ylabel("score")
        axis.grid(alpha=0.3)
        for (level_label, score), colour in zip(levels, ("C3", "C2", "C4")):
            axis.axhline(score, color=colour, linestyle="--", linewidth=1, label=level_label)
    if history:
        minutes = np.array([m for m, _, _ in history])
        frames = np.array([s * frames_per_step for _, s, _ in history]) / 1e6
        scores = np.array([s for _, _, s in history])
        window = min(window, len(scores))
        running = np.array([scores[max(0, i - window + 1): i + 1].mean() for i in range(len(scores))])
        for axis, x in ((by_time, minutes), (by_frames, frames)):
            axis.scatter(x, scores, s=4, alpha=0.3, label="one game")
            axis.plot(x, running, color="C1", label=f"mean of last {window} games")
    else:
        by_time.text(0.5, 0.5, "no game finished yet", ha="center", va="center", transform=by_time.transAxes)
    if history or levels:
        by_time.legend(loc="upper left", fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def _write_video(path: Path, frames: list, fps: int) -> None:
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    if path.suffix.lower() == ".mp4":
        height, width = frames[0].shape[:2]
        pad_h, pad_w = (-height) % 16, (-width) % 16
        frames = [np.pad(f, ((0, pad_h), (0, pad_w), (0, 0))) for f in frames]
        with imageio.get_writer(str(path), fps=fps, codec="libx264", quality=7, macro_block_size=16) as writer:
            for frame in frames:
                writer.append_data(frame)
    else:
        step = max(1, math.ceil(len(frames) / 3000))  # keep very long games to a sane file size
        imageio.mimsave(str(path), frames[::step], duration=1000 * step / fps, loop=0)
