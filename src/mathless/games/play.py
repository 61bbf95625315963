"""`play`: check what the user asked for, train within a budget, checkpoint, report.

The algorithms (ppo.py, dqn.py) only learn; this file does the bookkeeping around
them: the time or step budget, the live progress line, checkpoints every few
minutes and on Ctrl-C, and resuming a run with its score history.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mathless.errors import UserError
from mathless.games.agent import ALGORITHMS, Agent
from mathless.games.catalog import find_game

CHECKPOINT_SECONDS = 300
DEFAULT_MINUTES = {"atari": 60.0, "gymnasium": 2.0}
# The algorithm each kind of game gets unless the user names one: what reached the bar here
# (bench/RESULTS.md). On Pong, DQN passed a mean of +18 after 26 to 46 minutes in three runs on 2 cores,
# where PPO ended an hour at +0.7 to +3.0; on CartPole, PPO reaches 500 within a minute.
DEFAULT_ALGORITHM = {"atari": "dqn", "gymnasium": "ppo"}
# Keeping the best network: its score is the mean of this many games in a row (Atari games are
# few and long, small games many and short), and it replaces the last one only when the last
# games lost more than KEEP_DROP of the lead the best had over this run's first games. PPO on
# CartPole can solve the game in 15 s and lose it again before the budget ends (bench/RESULTS.md).
KEEP_WINDOW = {"atari": 100, "gymnasium": 20}
KEEP_DROP = 0.25
UNTIL_GAMES = 100  # --until-score is judged on the mean of this many games, as the score line shows


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def _check_budget(minutes, steps):
    for label, value in (("minutes", minutes), ("steps", steps)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise UserError(f"--{label} must be a number above 0 (got {value!r}).")
    if steps is not None and float(steps) != int(steps):
        raise UserError(f"--steps must be a whole number (got {steps!r}).")


def _check_until(until_score):
    if until_score is None:
        return None
    if isinstance(until_score, bool) or not isinstance(until_score, (int, float)) or until_score != until_score:
        raise UserError(f"--until-score must be a number, the mean score to stop at (got {until_score!r}).")
    return float(until_score)


class Run:
    """The budget and the bookkeeping of one training session."""

    def __init__(self, agent: Agent, minutes, steps, out: Path | None, quiet: bool, until_score=None):
        self.agent = agent
        self.until_score = until_score  # stop early once the mean of the last UNTIL_GAMES games reaches it
        self.reached = None  # (minutes, moves) when it did
        self.budget_seconds = None if minutes is None else float(minutes) * 60
        self.budget_steps = None if steps is None else int(steps)
        self.out = out
        self.quiet = quiet
        self.started = time.monotonic()
        self.start_minutes = agent.minutes
        self.steps_done = 0
        self.last_print = 0.0
        self.last_checkpoint = self.started
        self.saves = 0
        self.window = KEEP_WINDOW[agent.game.family]
        self.first_games = len(agent.history)
        self.first_mean = None  # the mean of this run's first `window` games
        self.best = None  # (mean, minutes, moves, weights) of the best `window` games in a row so far

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def fraction_done(self) -> float:
        fractions = []
        if self.budget_seconds:
            fractions.append(self.elapsed() / self.budget_seconds)
        if self.budget_steps:
            fractions.append(self.steps_done / self.budget_steps)
        return min(1.0, max(fractions)) if fractions else 0.0

    def should_stop(self) -> bool:
        return self.reached is not None or self.fraction_done() >= 1.0

    def note_target(self) -> None:
        agent = self.agent
        if (self.until_score is None or self.reached is not None or len(agent.history) < UNTIL_GAMES
                or agent.recent_score(UNTIL_GAMES) < self.until_score):
            return
        self.reached = (agent.minutes, agent.steps)
        self.say(f"The mean of the last {UNTIL_GAMES} games reached {agent.recent_score(UNTIL_GAMES):.1f} "
                 f"(asked: {self.until_score:g}) after {agent.minutes:.1f} min and {agent.steps:,} moves; stopping.")

    def record(self, steps: int, finished) -> None:
        """Called by the algorithm after each stretch of play."""
        self.steps_done += steps
        self.agent.steps += steps
        self.agent.minutes = self.start_minutes + self.elapsed() / 60
        for score, _length in finished:
            self.agent.history.append((round(self.agent.minutes, 4), self.agent.steps, score))
        if finished:
            self.note_best()
            self.note_target()
        now = self.elapsed()
        if not self.quiet and (now - self.last_print >= 10 or self.should_stop()):
            self.last_print = now
            self.print_progress()
        if self.out is not None and time.monotonic() - self.last_checkpoint >= CHECKPOINT_SECONDS:
            self.checkpoint()

    def note_best(self) -> None:
        """Remember the network whenever the mean of the last `window` games is the best of this run."""
        if len(self.agent.history) - self.first_games < self.window:
            return
        mean = self.agent.recent_score(self.window)
        if self.first_mean is None:
            self.first_mean = mean
        if self.best is None or mean > self.best[0]:
            weights = {name: tensor.detach().to("cpu", copy=True) for name, tensor in self.agent.network.state_dict().items()}
            self.best = (mean, self.agent.minutes, self.agent.steps, weights)

    def keep_best(self) -> None:
        """At the end: if the last games lost much of what the best stretch had gained, keep that network."""
        agent = self.agent
        agent.kept = None  # the saved network is the last one unless replaced below
        if self.best is None:
            return
        best, minutes, moves, weights = self.best
        last = agent.recent_score(self.window)
        gain = best - self.first_mean
        if gain <= 0 or best - last <= KEEP_DROP * gain:
            return
        agent.network.load_state_dict(weights)
        agent.optimizer_state = None  # the learning state belongs to the last network: a resume starts it afresh
        agent.kept = {"minutes": round(minutes, 4), "agent_steps": moves, "score": round(best, 3),
                      "games": self.window, "last_score": round(last, 3)}
        if not self.quiet:
            print(f"Kept the network from {minutes:.1f} min ({moves:,} moves), when {self.window} games in a row "
                  f"averaged {best:.1f}: the last {self.window} games averaged {last:.1f}, so later training "
                  f"made it worse.", file=sys.stderr, flush=True)

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def print_progress(self) -> None:
        agent, now = self.agent, self.elapsed()
        rate = self.steps_done / max(now, 1e-9)
        line = f"{agent.minutes:6.1f} min  {agent.steps:>11,} moves ({rate:,.0f}/s)"
        if agent.history:
            last = min(100, len(agent.history))
            best = max(s for _, _, s in agent.history)
            line += f"  score {agent.recent_score():7.1f} (mean of last {last} games)  best game {best:g}"
        else:
            line += "  no game finished yet"
        left = (1 - self.fraction_done()) * now / max(self.fraction_done(), 1e-9) if self.fraction_done() > 0 else None
        if left is not None:
            line += f"  {left / 60:.1f} min left"
        print(line, file=sys.stderr, flush=True)

    def checkpoint(self) -> None:
        self.agent.save(self.out, overwrite=True)
        self.last_checkpoint = time.monotonic()
        self.saves += 1


def play(game, minutes=None, steps=None, out=None, resume=None, algorithm=None, quiet=False, seed=0, until_score=None,
         overwrite=False) -> Agent:
    """Train an agent on ``game`` and return it; with ``out`` it is saved there as it learns.

    Budget: ``minutes`` of training or ``steps`` agent moves (whichever ends first);
    neither means 60 minutes for Atari and 2 minutes for small games. ``algorithm`` is "dqn" or
    "ppo"; left out, Atari games get DQN and small games PPO (a resumed run keeps its own). With ``until_score``
    training also stops once the mean of the last 100 games reaches that score.
    """
    _check_budget(minutes, steps)
    until_score = _check_until(until_score)
    algorithm = None if algorithm is None else str(algorithm).lower()
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise UserError(f"Unknown algorithm '{algorithm}'. Choose one of: {', '.join(ALGORITHMS)}.")
    named = algorithm  # None: the game's default, said in the first line
    chosen = find_game(game)
    if resume is not None:
        agent = Agent.load(resume)
        if agent.game.env_id != chosen.env_id:
            raise UserError(
                f"'{resume}' holds an agent for {agent.game.name}, not {chosen.name}. "
                f"Resume it with 'mathless play {agent.game.name} --resume {resume}', "
                f"or start a new run for {chosen.name} with another --out folder."
            )
        if algorithm is not None and agent.algorithm != algorithm:
            raise UserError(
                f"'{resume}' was trained with {agent.algorithm.upper()}; it cannot continue with "
                f"{algorithm.upper()}. Leave out --algorithm, or start a new run."
            )
        algorithm = agent.algorithm
        out = Path(out) if out is not None else Path(resume)
        if out.resolve() != Path(resume).resolve():
            from mathless.storage.folder import check_can_write

            check_can_write(out, overwrite)
    else:
        from mathless.games.environments import check_playable

        algorithm = algorithm or DEFAULT_ALGORITHM[chosen.family]
        check_playable(chosen, algorithm)
        if out is not None:
            from mathless.storage.folder import check_can_write

            check_can_write(Path(out), overwrite)
        agent = None
    if minutes is None and steps is None:
        minutes = DEFAULT_MINUTES[chosen.family]

    from mathless.games import dqn, ppo
    from mathless.games.environments import GameSteps
    from mathless.games.networks import describe

    module = ppo if algorithm == "ppo" else dqn
    if agent is None:
        probe = GameSteps(chosen, 1, seed=seed, threads=1)
        config = describe(probe.observation_shape, probe.actions, algorithm)
        probe.close()
        agent = Agent(chosen, algorithm, config)
    out = Path(out) if out is not None else None
    run = Run(agent, minutes, steps, out, quiet, until_score)
    if not quiet:
        budget = " and ".join(filter(None, [
            f"{minutes:g} minutes" if minutes is not None else None,
            f"{int(steps):,} moves" if steps is not None else None,
        ]))
        if until_score is not None:
            budget += f", or until the mean of the last {UNTIL_GAMES} games reaches {until_score:g}"
        where = f"; saving to '{out}' every {CHECKPOINT_SECONDS // 60} minutes and on Ctrl-C" if out else ""
        why = ""
        if resume is None and named is None:
            other = "ppo" if algorithm == "dqn" else "dqn"
            kind = "Atari games" if chosen.family == "atari" else "small games"
            why = f" (the default for {kind}; --algorithm {other} for the other)"
        print(f"Training {algorithm.upper()}{why} on {chosen.name} for {budget}{where}.", file=sys.stderr, flush=True)
    try:
        module.train(agent, run, seed=seed)
    except KeyboardInterrupt:
        run.keep_best()
        if out is not None:
            run.checkpoint()
            print(f"\nStopped. Saved the agent so far to '{out}'; continue with "
                  f"'mathless play {chosen.name} --resume {out}'.", file=sys.stderr, flush=True)
            return agent
        raise
    run.keep_best()
    if out is not None:
        run.checkpoint()
    if not quiet:
        score = agent.recent_score()
        score_text = "no game finished" if score is None else f"mean score of the last {min(100, len(agent.history))} games {score:.1f}"
        print(f"Done: {agent.steps:,} moves in {agent.minutes:.1f} min of training; {score_text}.", file=sys.stderr, flush=True)
    return agent
