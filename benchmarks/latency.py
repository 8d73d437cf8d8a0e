"""Where the time goes: model load, and per-question latency of each chain step.

Runs every golden question (tests/golden) once to warm up, then --rounds more times, and prints
p50/p95/max per step (screen, embed, retrieve, compose, check) and end to end, in milliseconds.
Usage: python benchmarks/latency.py [--cases tests/golden] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from t1d_qa.answer import Pipeline
from t1d_qa.config import Settings
from t1d_qa.evaluation import load_cases


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=Path("tests/golden"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    pipeline = Pipeline.load(Settings.from_env(), announce=lambda _: None)
    load_s = time.perf_counter() - started
    questions = [c.question for c in load_cases(args.cases) if c.question.strip()]

    steps: dict[str, list[float]] = {}
    for step in pipeline.chain.steps:  # time each RunnableLambda by wrapping its function
        fn, name = step.func, step.name
        def timed(state, fn=fn, name=name):
            t = time.perf_counter()
            try:
                return fn(state)
            finally:
                steps.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        step.func = timed

    for q in questions:  # warm-up round, not counted
        pipeline.ask(q)
    steps.clear()
    total: list[float] = []
    for _ in range(args.rounds):
        for q in questions:
            t = time.perf_counter()
            pipeline.ask(q)
            total.append((time.perf_counter() - t) * 1000)

    print(f"model + index load: {load_s:.1f} s; {len(questions)} questions x {args.rounds} rounds\n")
    print(f"{'step':>10}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}  {'mean ms':>8}")
    for name, values in [*steps.items(), ("total", total)]:
        print(f"{name:>10}  {percentile(values, 50):8.1f}  {percentile(values, 95):8.1f}  {max(values):8.1f}"
              f"  {statistics.fmean(values):8.1f}")


if __name__ == "__main__":
    main()
