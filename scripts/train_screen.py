"""Train the screen's learned net (src/t1d_qa/data/screen_net.npz) on the safety bank's TRAIN half.

    .venv/bin/python scripts/train_screen.py            # train, print cross-validated numbers, write weights

Run it after changing the lexicon or the bank's train half: the weights record what they were trained on,
and tests/test_safety_bank.py fails when that no longer matches.

Data: tests/safety_bank/train/*.yaml (labelled messages) plus every question and paraphrase of the answer
library (corpus/answers/*.yaml) as ordinary questions. The frozen test half is never read here.
Features: the packaged model's embedding, the lexicon's findings, and character 1-4-grams (tf-idf) of the
normalised text. Thresholds: the lowest probability at which cross-validation grouped by author (10 folds; a
message is scored by a net that never read its author's messages) raises at
most 0.5% false emergencies and 1% false advice (never below 0.2), counted over the messages the net decides
for: those the lexicon did not already put in that class. Counted over all messages, the budget followed the
bank's mix (the emergencies counted in the advice budget), and as five authors joined the thresholds drifted to
0.61 and 0.63. The emergency budget was 0.2% until the twenty-sixth author; at 0.5% (half the issue's 1% gate)
the net catches three more of the emergencies the lexicon misses in cross-validation for three more false alarms
(0.25% instead of 0.19%). A threshold set at zero false alarms in cross-validation follows the one
highest-scoring ordinary message, and on authors the net had not seen it let most of what the lexicon missed
through (see tests/safety_bank/README.md).
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
from t1d_qa.screen_net import CLASSES, EMERGENCY_KINDS, ScreenNet, char_ngrams, features  # noqa: E402

OUT = ROOT / "src" / "t1d_qa" / "data" / "screen_net.npz"
C = 4.0  # inverse regularisation of the logistic regression
# allowed in cross-validation, per class: half of issue 8's gate for that class (false emergencies <= 1%, false
# advice <= 2% of study questions). The advice budget was 0.5% (the emergency one) until the fortieth author: the
# authors written to ask for dose changes indirectly were caught at 88-92% before tuning, and in cross-validation
# 1% (threshold 0.39 instead of 0.61) catches 99.0% of advice requests instead of 98.4% (a false advice gets the refusal and general evidence; a
# missed one can get a study's doses)
FALSE_ALARMS = {"emergency": 0.005, "personal_advice": 0.01}
# a threshold is never below this. It was 0.5 until the thirty-second author: with 8,164 messages the emergency
# budget alone puts the threshold at 0.31, and held at 0.5 the net missed one more emergency of the development
# set (the thirty-first author, never trained on); in 10-fold cross-validation that was not grouped by author the
# lower threshold caught 90 instead of 85 of the 95 emergencies the lexicon misses, for 0.46% instead of 0.23%
# false emergencies among the messages left to the net
FLOOR = 0.2
# the bank's emergency types, by the reply they need (screen_net.EMERGENCY_KINDS)
_KIND_OF_TYPE = {"hypo": "low_or_dka", "dka": "low_or_dka", "chest_stroke": "chest_stroke", "self_harm": "self_harm"}
MAX_NGRAMS = 80_000


def training_data() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(texts, labels, groups, emergency kinds): a message's group is its author (the file's name without the
    language); an emergency's kind is its index in EMERGENCY_KINDS (-1 for other messages)."""
    texts, labels, groups, kinds = [], [], [], []
    for path in sorted((BANK_DIR / "train").glob("*.yaml")):
        for item in load_bank(path.parent, path.name):
            texts.append(item.text)
            labels.append(CLASSES.index(item.label) if item.label in CLASSES else CLASSES.index("other"))
            groups.append(path.stem.rsplit("-", 1)[0] if "-" in path.stem else "first")
            kinds.append(EMERGENCY_KINDS.index(_KIND_OF_TYPE.get(item.type, "low_or_dka"))
                         if item.label == "emergency" else -1)
    for path in sorted((ROOT / "corpus" / "answers").glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text("utf-8"))["entries"]:
            for question in [entry["question"], *entry["paraphrases"]]:
                texts.append(question)
                labels.append(CLASSES.index("other"))
                groups.append("answer library")
                kinds.append(-1)
    return texts, np.array(labels), np.array(groups), np.array(kinds)


def matrix(texts: list[str], embeddings):
    """(dense features, spelling tf-idf matrix, its vectorizer)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    normalised = [safety.situation_text(t) for t in texts]
    vectors = embeddings.encode(texts, query=True)
    dense = np.stack([features(situation.analyse(n), v) for n, v in zip(normalised, vectors)])
    spelling = TfidfVectorizer(analyzer=char_ngrams, min_df=2, sublinear_tf=True, max_features=MAX_NGRAMS,
                               dtype=np.float32)
    return dense, spelling.fit_transform(normalised), spelling


def stack(dense: np.ndarray, spelling):
    from scipy import sparse

    return sparse.hstack([sparse.csr_matrix(dense), spelling]).tocsr()


def fit(X, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=4000, class_weight="balanced").fit(X, y)


def left_to_the_net(texts: list[str]) -> dict[str, np.ndarray]:
    """Per class, which messages the net decides for: those the lexicon did not already put in that class.

    The net's false alarms only count there; a message the lexicon already decided cannot be one."""
    kinds = [safety.screen(text, max(len(text), 1)).kind for text in texts]
    return {kind: np.array([k != kind for k in kinds]) for kind in CLASSES[:2]}


def thresholds(X, y: np.ndarray, groups: np.ndarray,
               open_: dict[str, np.ndarray]) -> tuple[dict[str, float], dict[str, float]]:
    """Each message is scored by a net that was not trained on its author (grouped cross-validation): the
    net meets new patients' wording, not more of an author it has read."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict

    model = LogisticRegression(C=C, max_iter=4000, class_weight="balanced")
    probs = cross_val_predict(model, X, y, groups=groups, cv=GroupKFold(10), method="predict_proba")
    chosen, recall = {}, {}
    for k, kind in enumerate(CLASSES[:2]):
        negatives = np.sort(probs[(y != k) & open_[kind], k])[::-1]
        allowed = int(FALSE_ALARMS[kind] * len(negatives))
        tau = float(negatives[allowed]) + 1e-3 if len(negatives) > allowed else FLOOR
        chosen[kind] = max(tau, FLOOR)
        recall[kind] = float(((probs[:, k] >= chosen[kind]) | ~open_[kind])[y == k].mean())
    return chosen, recall


def kind_report(X, kinds: np.ndarray, groups: np.ndarray) -> str:
    """How often the type head names the emergency's kind, each scored by a head that never read its author."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict

    said = cross_val_predict(LogisticRegression(C=C, max_iter=4000, class_weight="balanced"), X, kinds,
                             groups=groups, cv=GroupKFold(10))
    return ", ".join(f"{name} {int(((said == k) & (kinds == k)).sum())} of {int((kinds == k).sum())}"
                     + f" (and {int(((said == k) & (kinds != k)).sum())} others)"
                     for k, name in enumerate(EMERGENCY_KINDS))


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    settings = Settings.from_env({}, models_dir=ROOT / ".t1d_qa" / "models")
    embeddings = load_embeddings(settings)
    texts, y, groups, kinds = training_data()
    dense, spelling, vectorizer = matrix(texts, embeddings)
    X = stack(dense, spelling)
    print(f"training on {len(texts)} messages: " + ", ".join(f"{c} {int((y == i).sum())}" for i, c in enumerate(CLASSES)))
    taus, recall = thresholds(X, y, groups, left_to_the_net(texts))
    print("cross-validated, with the lexicon: "
          + ", ".join(f"{k} threshold {taus[k]:.3f} recall {recall[k]:.1%}" for k in taus))
    model = fit(X, y)
    coef = model.coef_.astype(np.float32)
    width = dense.shape[1]
    emergencies = y == CLASSES.index("emergency")
    print("emergency-type head, cross-validated on the emergencies: "
          + kind_report(X[emergencies], kinds[emergencies], groups[emergencies]))
    head = fit(X[emergencies], kinds[emergencies])
    kind_coef = head.coef_.astype(np.float32)
    net = ScreenNet(coef[:, :width], coef[:, width:], model.intercept_.astype(np.float32),
                    tuple(vectorizer.get_feature_names_out().tolist()), vectorizer.idf_.astype(np.float32), taus,
                    settings.embedding_model, training_fingerprint(), kind_coef[:, :width], kind_coef[:, width:],
                    head.intercept_.astype(np.float32))
    net.save(OUT)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
