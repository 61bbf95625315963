"""CartPole-v1 on this machine: mathless PPO against Stable-Baselines3 PPO (RL Zoo settings).

    python bench/cartpole.py --minutes 1 --seeds 5

The bar (games issue): CartPole-v1 reaches the maximum score, 500, within a minute.
For each seed, in one run on one machine, one after the other:
1. `mathless play CartPole-v1 --minutes M --seed S`, then `mathless evaluate` (20 games);
2. SB3 PPO with the RL Baselines3 Zoo's CartPole-v1 hyperparameters for the same minutes,
   then 20 games with its policy sampled (as mathless plays them);
3. the "cartpole" section of bench/RESULTS.md.

"Solved" = the first moment the last 10 finished training games all scored 500 (mean 500).
Both trainers run in their own process with one torch thread (tiny networks run fastest
on one: splitting a 64-wide layer costs more than it saves), timed from the start of
training, not counting Python and torch starting up.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
MAXIMUM = 500.0
WINDOW = 10
EVALUATION_GAMES = 20


def sb3_worker(minutes: float, out: Path, seed: int) -> None:
    """SB3 PPO with the zoo's CartPole-v1 settings (hyperparams/ppo.yml), time-limited, then evaluated."""
    import numpy as np
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    from results import sb3_episode_log

    torch.set_num_threads(1)
    envs = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    total = 100_000  # the zoo's budget; its linear schedules are defined over it

    def linear(start):
        return lambda remaining: remaining * start

    model = PPO("MlpPolicy", envs, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                ent_coef=0.0, learning_rate=linear(0.001), clip_range=linear(0.2), seed=seed, verbose=0,
                device="cpu")

    log = sb3_episode_log(out, minutes)
    model.learn(total_timesteps=total, callback=log)
    scores, _ = evaluate_policy(model, make_vec_env("CartPole-v1", n_envs=1, seed=seed + 1_000_003),
                                n_eval_episodes=EVALUATION_GAMES, deterministic=False, return_episode_rewards=True)
    out.with_suffix(".evaluation.json").write_text(json.dumps({
        "scores": [float(s) for s in scores], "mean": float(np.mean(scores)),
        "agent_steps": int(model.num_timesteps),
        "minutes": (time.monotonic() - log.start) / 60,
    }))


def read_games(path: Path) -> list:
    with open(path, newline="") as handle:
        return [(float(r["minutes"]), int(r["agent_steps"]), float(r["score"])) for r in csv.DictReader(handle)]


def solved_at(games):
    """(minutes, agent steps) when the last WINDOW games first all scored the maximum, or None."""
    for i in range(WINDOW - 1, len(games)):
        if all(score >= MAXIMUM for _, _, score in games[i - WINDOW + 1:i + 1]):
            return games[i][0], games[i][1]
    return None


def run_mathless(minutes: float, seed: int, out: Path) -> dict:
    mathless = Path(sys.executable).with_name("mathless")
    run = out / f"mathless-seed{seed}"
    subprocess.run([str(mathless), "play", "CartPole-v1", "--minutes", str(minutes), "--seed", str(seed),
                    "--out", str(run), "--overwrite"], check=True)
    result = subprocess.run([str(mathless), "evaluate", str(run), "--episodes", str(EVALUATION_GAMES), "--json"],
                            check=True, capture_output=True, text=True)
    evaluation = json.loads(result.stdout)
    manifest = json.loads((run / "manifest.json").read_text())
    return {"games": read_games(run / "curve.csv"), "evaluation_scores": evaluation["scores"],
            "agent_steps": manifest["agent_steps"], "minutes": manifest["minutes_trained"]}


def run_sb3(minutes: float, seed: int, out: Path) -> dict:
    log = out / f"sb3-seed{seed}.csv"
    subprocess.run([sys.executable, __file__, "--sb3-worker", "--minutes", str(minutes), "--seed", str(seed),
                    "--out", str(out)], check=True)
    evaluation = json.loads(log.with_suffix(".evaluation.json").read_text())
    return {"games": read_games(log), "evaluation_scores": evaluation["scores"],
            "agent_steps": evaluation["agent_steps"], "minutes": evaluation["minutes"]}


def summary(result: dict) -> dict:
    games = result["games"]
    solved = solved_at(games)
    last = [score for _, _, score in games[-WINDOW:]]
    return {
        "solved": solved,
        "last_mean": statistics.mean(last) if last else None,
        "evaluation_mean": statistics.mean(result["evaluation_scores"]),
        "evaluation_all_max": all(s >= MAXIMUM for s in result["evaluation_scores"]),
        "steps_per_s": result["agent_steps"] / (result["minutes"] * 60),
        "games": len(games),
    }


def write_section(args, rows) -> None:
    from results import stamp, write_section as write

    def solved_text(s):
        return f"{s['solved'][0] * 60:.0f} s ({s['solved'][1]:,} moves)" if s["solved"] else f"not in {args.minutes:g} min"

    lines = ["## Games: CartPole-v1, mathless PPO vs Stable-Baselines3 PPO (RL Zoo settings)", "",
             stamp(f"python bench/cartpole.py --minutes {args.minutes:g} --seeds {args.seeds}").rstrip(),
             f"- budget: {args.minutes:g} min of training per trainer and seed, one after the other, 1 torch thread each",
             "",
             f"Solved = the last {WINDOW} training games all scored the maximum ({MAXIMUM:.0f}); seconds from the start "
             f"of training. Evaluation: {EVALUATION_GAMES} fresh games after training, moves sampled from the policy.",
             "", "| seed | mathless: solved after | mathless: evaluation mean | SB3: solved after | SB3: evaluation mean |",
             "|---|---|---|---|---|"]
    for seed, ours, theirs in rows:
        lines.append(f"| {seed} | {solved_text(ours)} | {ours['evaluation_mean']:.1f} | {solved_text(theirs)} | "
                     f"{theirs['evaluation_mean']:.1f} |")
    ours_solved = [o["solved"][0] * 60 for _, o, _ in rows if o["solved"]]
    theirs_solved = [t["solved"][0] * 60 for _, _, t in rows if t["solved"]]
    n = len(rows)
    lines += ["",
              f"- mathless solved {len(ours_solved)} of {n} seeds"
              + (f", median {statistics.median(ours_solved):.0f} s, slowest {max(ours_solved):.0f} s" if ours_solved else ""),
              f"- SB3 solved {len(theirs_solved)} of {n} seeds"
              + (f", median {statistics.median(theirs_solved):.0f} s, slowest {max(theirs_solved):.0f} s" if theirs_solved else ""),
              f"- whole-loop moves/s: mathless {statistics.mean(o['steps_per_s'] for _, o, _ in rows):,.0f}, "
              f"SB3 {statistics.mean(t['steps_per_s'] for _, _, t in rows):,.0f}",
              f"- evaluation games at the maximum: mathless {sum(o['evaluation_all_max'] for _, o, _ in rows)} of {n} "
              f"seeds with all {EVALUATION_GAMES} at {MAXIMUM:.0f}, SB3 {sum(t['evaluation_all_max'] for _, _, t in rows)} of {n}",
              f"- bar (500 within a minute): {'met' if len(ours_solved) == n and max(ours_solved) <= 60 else 'NOT met'} "
              f"for every seed",
              "- SB3 stops at the zoo's 100,000 moves (about 40 s here); its learning rate and clip shrink to 0 over "
              "them, while mathless's rate shrinks to 0.3 of its start over the minute."]
    write("cartpole", "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.0, help="training budget per trainer and seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "cartpole")
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sb3-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.minutes > 0 or args.seeds < 1:
        parser.error("--minutes must be above 0 and --seeds at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.sb3_worker:
        sb3_worker(args.minutes, args.out / f"sb3-seed{args.seed}.csv", args.seed)
        return
    rows = []
    for seed in range(args.seeds):
        ours, theirs = summary(run_mathless(args.minutes, seed, args.out)), summary(run_sb3(args.minutes, seed, args.out))
        print(json.dumps({"seed": seed, "mathless": ours, "sb3": theirs}), flush=True)
        rows.append((seed, ours, theirs))
        (args.out / "summary.json").write_text(json.dumps(rows))
    write_section(args, rows)
    print((HERE / "RESULTS.md").read_text().split("<!-- cartpole:start -->")[1].split("<!-- cartpole:end -->")[0])


if __name__ == "__main__":
    main()
