"""Train the screen's learned net (src/t1d_qa/data/screen_net.npz) on the safety bank's TRAIN half.

    .venv/bin/python scripts/train_screen.py            # train, print cross-validated numbers, write weights

Run it after changing the lexicon or the bank's train half: the weights record what they were trained on,
and tests/test_safety_bank.py fails when that no longer matches.

Data: tests/safety_bank/train/*.yaml (labelled messages) plus every question and paraphrase of the answer
library (corpus/answers/*.yaml) as ordinary questions. The frozen test half is never read here.
Thresholds: the lowest probability at which 10-fold cross-validation on this data raises no false
emergency (and at most 0.5% false advice), so the net adds decisions the lexicon missed without alarms.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from t1d_qa import safety, situation  # noqa: E402
from t1d_qa.config import Settings  # noqa: E402
from t1d_qa.embeddings import load_embeddings  # noqa: E402
from t1d_qa.safety_bank import BANK_DIR, load_bank, training_fingerprint  # noqa: E402
from t1d_qa.screen_net import CLASSES, ScreenNet, features  # noqa: E402

OUT = ROOT / "src" / "t1d_qa" / "data" / "screen_net.npz"


def training_data() -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for item in load_bank(BANK_DIR / "train"):
        texts.append(item.text)
        labels.append(CLASSES.index(item.label) if item.label in CLASSES else CLASSES.index("other"))
    for path in sorted((ROOT / "corpus" / "answers").glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text("utf-8"))["entries"]:
            for question in [entry["question"], *entry["paraphrases"]]:
                texts.append(question)
                labels.append(CLASSES.index("other"))
    return texts, np.array(labels)


def matrix(texts: list[str], embeddings) -> np.ndarray:
    vectors = embeddings.encode(texts, query=True)
    return np.stack([features(situation.analyse(safety.situation_text(t)), v) for t, v in zip(texts, vectors)])


def fit(X: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=4.0, max_iter=4000, class_weight="balanced").fit(X, y)


def thresholds(X: np.ndarray, y: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    model = LogisticRegression(C=4.0, max_iter=4000, class_weight="balanced")
    probs = cross_val_predict(model, X, y, cv=StratifiedKFold(10, shuffle=True, random_state=0),
                              method="predict_proba")
    chosen, recall = {}, {}
    for k, kind in enumerate(CLASSES[:2]):
        negatives = probs[y != k, k]
        allowed = 0 if kind == "emergency" else int(0.005 * len(negatives))
        tau = float(np.sort(negatives)[::-1][allowed]) + 1e-3 if len(negatives) > allowed else 0.5
        chosen[kind] = max(tau, 0.7)  # never below 0.7: the net only adds to the lexicon
        recall[kind] = float((probs[y == k, k] >= chosen[kind]).mean())
    return chosen, recall


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    settings = Settings.from_env({}, models_dir=ROOT / ".t1d_qa" / "models")
    embeddings = load_embeddings(settings)
    texts, y = training_data()
    X = matrix(texts, embeddings)
    print(f"training on {len(texts)} messages: " + ", ".join(f"{c} {int((y == i).sum())}" for i, c in enumerate(CLASSES)))
    taus, recall = thresholds(X, y)
    print("cross-validated: " + ", ".join(f"{k} threshold {taus[k]:.3f} recall {recall[k]:.1%}" for k in taus))
    model = fit(X, y)
    net = ScreenNet(model.coef_.astype(np.float32), model.intercept_.astype(np.float32), taus,
                    settings.embedding_model, training_fingerprint())
    net.save(OUT)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
