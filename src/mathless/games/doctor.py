"""The doctor for game agents: deterministic checks on the score history, each with what to try.

The history is one (minutes, moves, score) per game finished while training. The
checks read its running mean: the mean score of the last WINDOW games, where
WINDOW grows with the number of games (a tenth of them, at least 10, at most 100),
so one lucky or unlucky game never decides a finding.

Scores are judged on a scale from random play to a goal: the human tester's
average for Atari games with published scores (Mnih et al. 2015), Gymnasium's own
"solved" score for small games that have one (CartPole-v1: 475). Without a goal,
the scale is the size of the random score itself (at least 1 point).

The checks, most serious first:
- too little training: fewer than MIN_GAMES games finished, or fewer moves than
  MIN_MOVES. Below that the curve says little, so the curve checks stay quiet.
- no better than random: the recent running mean is not CLEAR_SHARE (5%) of the
  scale above random play (the same "5% of the way" the evaluation's verdict uses).
- score collapsed: the running mean once stood clearly above random and has since
  lost at least COLLAPSE_SHARE (half) of its lead over random play.
- score stopped improving: in the last LATE_SHARE (third) of training, counted in
  moves, the running mean neither beat its earlier best nor rose from where it
  stood when that last third began, by IMPROVE_SHARE (5%) of the scale either way.
  (A score climbing back after a dip is still improving.) Quiet once the goal is
  reached: an agent that beats the human tester or solves the game has nothing
  left to fix.
An agent that never beat random play gets only that finding, not a collapse or a stall.
"""

from __future__ import annotations

import numpy as np

from mathless.evaluation.doctor import finding

MIN_GAMES = 20
# "Atari 100k", the smallest budget on which published Atari agents are compared, is
# 100,000 moves (400,000 frames); small games like CartPole need ~10,000 moves to show a trend.
MIN_MOVES = {"atari": 100_000, "gymnasium": 10_000}
CLEAR_SHARE = 0.05
COLLAPSE_SHARE = 0.5
IMPROVE_SHARE = 0.05
LATE_SHARE = 1 / 3
MIN_LATE_GAMES = 5
CHECKS = "too little training, no better than random, score collapsed, score stopped improving"


def points(score: float) -> str:
    """A score as people write it: 187.1, -20.5, 1,234."""
    text = f"{score:,.1f}"
    return text[:-2] if text.endswith(".0") else text


def duration(minutes: float) -> str:
    """'about 40 seconds', 'about 12.5 minutes'."""
    if minutes < 1:
        return f"about {max(0.0, minutes) * 60:.0f} seconds"
    return f"about {minutes:,.1f} minutes"


def window(games: int) -> int:
    """How many games the running mean averages."""
    return min(100, max(10, games // 10))


def running_mean(scores, size: int) -> np.ndarray:
    """The mean of each run of ``size`` games in a row; element i ends at game i + size - 1."""
    scores = np.asarray(scores, dtype=float)
    if len(scores) < size:
        return np.array([])
    sums = np.cumsum(np.insert(scores, 0, 0.0))
    return (sums[size:] - sums[:-size]) / size


def goal(game):
    """(score, what it is) that counts as playing well, or None when nobody published one."""
    reference = game.reference()
    if reference:
        return reference[1], "the human tester's average"
    if game.family != "atari":
        import gymnasium

        try:
            threshold = gymnasium.spec(game.env_id).reward_threshold
        except Exception:  # an environment Gymnasium no longer knows
            threshold = None
        if threshold is not None:
            return float(threshold), "Gymnasium's 'solved' score"
    return None


def examine(agent) -> list:
    """All findings for an agent, most serious first."""
    history = agent.history
    scores = [score for _, _, score in history]
    games, moves = len(history), agent.steps
    found = []
    resume = f"mathless play {agent.game.name} --resume {agent.folder or 'RUN'}"
    least = MIN_MOVES[agent.game.family]
    if games < MIN_GAMES or moves < least:
        games_text = "no game finished" if games == 0 else f"only {games:,} game{'s' if games != 1 else ''} finished"
        found.append(finding(
            "too little training",
            f"Too little training to judge how it learns: {games_text} in {moves:,} moves "
            f"({duration(agent.minutes)}). Below {MIN_GAMES} games and {least:,} moves the score curve says little.",
            f"Train longer: '{resume} --minutes {30 if agent.game.pixels else 2}'. Atari games usually need "
            f"20-60 minutes here before the score rises clearly; small games like CartPole a minute or two.",
        ))
    if games < MIN_GAMES:
        return found

    size = window(games)
    running = running_mean(scores, size)
    recent = float(running[-1])
    random_score, random_source = agent._random_reference(10, 1_000_003)
    target = goal(agent.game)
    scale = (target[0] - random_score) if target and target[0] > random_score else max(abs(random_score), 1.0)
    if recent < random_score + CLEAR_SHARE * scale:
        found.append(finding(
            "no better than random",
            f"No better than random play: the last {size} games averaged {points(recent)}; pressing random buttons "
            f"scores {points(random_score)} ({random_source}).",
            "Train longer first (Atari agents often stay at random level for their first 10-20 minutes). If the "
            "score is still flat after much longer training, start a new run with the other algorithm "
            "(--algorithm dqn or ppo) or another --seed.",
        ))
        return found

    earlier = running[:-size]  # windows that share no game with the recent one
    if len(earlier):
        best_at = int(np.argmax(earlier))
        best = float(earlier[best_at])
        lead = best - random_score
        if lead >= CLEAR_SHARE * scale and best - recent >= COLLAPSE_SHARE * lead:
            minute = history[best_at + size - 1][0]
            found.append(finding(
                "score collapsed",
                f"The score collapsed: {size} games in a row averaged {points(best)} after {duration(minute)} "
                f"of training, but the last {size} average {points(recent)}: it lost {(best - recent) / lead:.0%} "
                f"of its lead over random play ({points(random_score)}). Training became unstable."
                + (f" The saved network is not the last one but the one from {duration(agent.kept['minutes'])}, "
                   f"when {agent.kept['games']} games in a row averaged {points(agent.kept['score'])}."
                   if agent.kept else ""),
                ("Use it as it is, or resume with a shorter --minutes to improve on it; another --seed or the other "
                 "algorithm (--algorithm dqn or ppo) may learn more steadily." if agent.kept else
                 "Train a new run with another --seed or the other algorithm (--algorithm dqn or ppo). "
                 "When a run plays well, copy its folder: checkpoints overwrite it as training goes on."),
            ))
            return found

    if target and recent >= target[0]:
        return found
    late_start = moves * (1 - LATE_SHARE)
    ends = np.array([steps for _, steps, _ in history[size - 1:]])  # the move at which each window ends
    early, late = running[ends <= late_start], running[ends > late_start]
    late_games = sum(1 for _, steps, _ in history if steps > late_start)
    if len(early) and len(late) and late_games >= MIN_LATE_GAMES:
        margin = IMPROVE_SHARE * scale
        if late.max() < early.max() + margin and late[-1] < late[0] + margin:
            late_minutes = agent.minutes - next(m for m, steps, _ in history if steps > late_start)
            found.append(finding(
                "score stopped improving",
                f"The score stopped improving: in the last third of training ({late_games:,} games, "
                f"{duration(late_minutes)}) the mean of {size} games went from {points(late[0])} to "
                f"{points(late[-1])} and never beat its earlier best of {points(early.max())} by "
                f"{points(margin)} points or more (best since: {points(late.max())}).",
                "More of the same training is unlikely to help much. Start a new run with another --seed or the "
                "other algorithm (--algorithm dqn or ppo); if the score is good enough for you, you are done.",
            ))
    return found
