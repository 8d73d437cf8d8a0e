"""How long the safety screen takes per message, and what it decides on the labelled bank.

    .venv/bin/python benchmarks/screen.py [--rounds 3]

Prints p50/p95/max milliseconds per message for the lexicon screen (no embedding) and for the screen with
the learned net (the embedding is computed outside the timed part: the pipeline shares it with retrieval),
over every message of tests/safety_bank (train and frozen test halves), then the four numbers of issue 8
on the frozen test half for both.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from t1d_qa import safety
from t1d_qa.config import Settings
from t1d_qa.embeddings import load_embeddings
from t1d_qa.safety_bank import BANK_DIR, EmbeddedScreener, format_report, load_bank, score


def timings(messages, vectors, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        for text, vector in zip(messages, vectors):
            started = time.perf_counter()
            safety.screen(text, 2000, vector)
            out.append((time.perf_counter() - started) * 1000)
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    items = load_bank(BANK_DIR / "train") + load_bank(BANK_DIR / "test")
    messages = [i.text for i in items]
    embeddings = load_embeddings(Settings.from_env(models_dir=Path(".t1d_qa/models")))
    vectors = embeddings.encode(messages, query=True)
    safety.screen("warm-up", 2000, vectors[0])
    print(f"{len(messages)} messages x {args.rounds} rounds; mean length {statistics.mean(map(len, messages)):.0f} chars")
    print(f"{'screen':>22}  {'p50 ms':>7}  {'p95 ms':>7}  {'max ms':>7}")
    for name, vecs in (("lexicon", [None] * len(messages)), ("lexicon + learned net", list(vectors))):
        t = timings(messages, vecs, args.rounds)
        print(f"{name:>22}  {t[len(t) // 2]:7.2f}  {t[int(len(t) * 0.95)]:7.2f}  {t[-1]:7.2f}")
    test = load_bank(BANK_DIR / "test")
    print()
    print(format_report(score(safety, test), "lexicon only, frozen test half"))
    print(format_report(score(EmbeddedScreener(embeddings), test), "lexicon + learned net, frozen test half"))


if __name__ == "__main__":
    main()
