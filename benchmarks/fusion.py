"""Dense-only vs fused (dense + BM25/jieba) ranking on the labelled questions.

Prints recall@1/@3/@5 and MRR per setting, so the default lexical weight and language
bonus (Settings.lexical_weight, HybridRetriever.language_bonus) are chosen by measurement.
Usage: python benchmarks/fusion.py [--questions tests/data/retrieval_questions.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from t1d_qa.answer import Pipeline
from t1d_qa.config import Settings
from t1d_qa.retrieval import HybridRetriever

SETTINGS = [(w, b) for w in (0.0, 0.1, 0.2, 0.3, 0.5) for b in (0.0, 0.15)]


def rank_of(expected: set[str], doc_ids: list[str]) -> int | None:
    for i, doc in enumerate(doc_ids, 1):
        if doc in expected:
            return i
    return None


def evaluate(index, questions, weight: float, bonus: float) -> dict[str, float]:
    retriever = HybridRetriever(index=index, k=5, lexical_weight=weight, language_bonus=bonus)
    ranks = []
    for item in questions:
        passages = retriever.search(item["q"])
        ranks.append(rank_of(set(item["docs"]), [p.metadata["doc_id"] for p in passages]))
    n = len(ranks)
    hit = lambda k: sum(1 for r in ranks if r and r <= k) / n  # noqa: E731
    return {"R@1": hit(1), "R@3": hit(3), "R@5": hit(5), "MRR": sum(1 / r for r in ranks if r) / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=Path("tests/data/retrieval_questions.yaml"))
    args = parser.parse_args()
    questions = yaml.safe_load(args.questions.read_text(encoding="utf-8"))
    pipeline = Pipeline.load(Settings.from_env())
    print(f"{len(questions)} labelled questions\n")
    print(f"{'lexical weight':>14} {'lang bonus':>10}   R@1    R@3    R@5    MRR")
    for weight, bonus in SETTINGS:
        m = evaluate(pipeline.index, questions, weight, bonus)
        print(f"{weight:>14.1f} {bonus:>10.2f}  {m['R@1']:.3f}  {m['R@3']:.3f}  {m['R@5']:.3f}  {m['MRR']:.3f}")


if __name__ == "__main__":
    main()
