"""Library matching on held-out paraphrases: precision and recall per confidence threshold.

A fixed quarter of each entry's paraphrases (matcher.holdout) is kept out of training; the
matcher trained on the rest must find their entry. Precision = right / matched, recall =
right / all held out. MIN_CONFIDENCE in compose/matcher.py is chosen from this table.
Then the held-out author's questions (tests/question_bank/, never trained on), scored by the
matcher the app uses: precision, recall, and how often a question no entry answers is matched; and,
for the questions it abstains on, how often the nearest entry shown (NEAREST_FLOOR) is their own.
Usage: python benchmarks/intent.py [--confusions]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from t1d_qa.compose import matcher
from t1d_qa.config import Settings
from t1d_qa.embeddings import load_embeddings
from t1d_qa.library import load_asked, load_library

THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.7)
NEAREST_FLOORS = (0.0, 0.15, 0.25, 0.35, 0.45)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--confusions", action="store_true", help="also list the wrong matches")
    args = parser.parse_args()
    settings = Settings.from_env()
    library = load_library(settings.corpus_dir, strict=False)
    embeddings = load_embeddings(settings)
    encode = matcher.cached_encoder(embeddings, settings.models_dir / "library" / "question-vectors.npz")
    started = time.perf_counter()
    scores = matcher.holdout_scores(library, encode, THRESHOLDS)
    print(f"library: {len(library)} entries; held out: {next(iter(scores.values()))['held_out']} paraphrases "
          f"({time.perf_counter() - started:.1f} s incl. embedding)")
    print(f"{'threshold':>9}  {'matched':>7}  {'correct':>7}  {'precision':>9}  {'recall':>6}")
    for t, s in scores.items():
        mark = "  <- MIN_CONFIDENCE" if t == matcher.MIN_CONFIDENCE else ""
        print(f"{t:>9.2f}  {s['answered']:>7}  {s['correct']:>7}  {s['precision']:>9.3f}  {s['recall']:>6.3f}{mark}")
    bank, problems = load_asked(Path(__file__).resolve().parents[1] / "tests" / "question_bank", library.entries)
    if bank and not problems:
        trained = matcher.Matcher.train(library, encode)
        for lang in ("zh", "en"):
            r = matcher.asked_scores(trained, [q for q in bank if q.lang == lang], encode)
            print(f"held-out author ({lang}): {r['questions']} questions, precision {r['precision']:.3f}, "
                  f"recall {r['recall']:.3f}; {r['none']} no entry answers, {r['false_matches']:.1%} matched anyway")
        # the reply when match() abstains: the closest entry under its own question (NEAREST_FLOOR)
        print(f"{'nearest floor':>13}  {'abstained':>9}  {'shown':>5}  {'right':>5}  {'offered':>7}  {'none shown':>10}")
        for floor, n in matcher.nearest_scores(trained, bank, encode, NEAREST_FLOORS).items():
            mark = "  <- NEAREST_FLOOR" if floor == matcher.NEAREST_FLOOR else ""
            print(f"{floor:>13.2f}  {n['abstained']:>9}  {n['shown']:>5}  {n['right']:>5}  {n['offered']:>7}  "
                  f"{n['none_shown']:>10.1%}{mark}")
    if args.confusions:
        for p, want, got, conf in matcher.confusions(library, encode):
            print(f"  {want:>28} -> {got:<28} {conf:.2f}  {p}")


if __name__ == "__main__":
    main()
