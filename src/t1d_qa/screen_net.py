"""The learned net under the lexicon: catches emergencies and advice requests the lexicon misses.

A logistic regression over three views of a message: the packaged model's embedding (what it is
about), the lexicon's own findings (which groups were found, in which frame), and the character
n-grams of the normalised text (1 to 4 characters inside each word: the spelling, so typos, dialect
and unlisted words count as near what they resemble). It is trained by scripts/train_screen.py on
the safety bank's train half and the answer library's questions (ordinary questions, many of them
about insulin), never on the frozen test half, and shipped as data/screen_net.npz. It can only add
a decision the lexicon did not make: an emergency in any message (one can be told without a medical
word), an advice request only when the message mentions the body, a medicine or a change to one. Its
thresholds are chosen by cross-validation on the train half, grouped by author: the lowest at which at
most 0.5% of non-emergencies (1% of non-advice messages) would be raised, counted among the messages the
lexicon left to the net. A second head, trained on the bank's emergencies only, says which emergency the net
found: a low or DKA (the emergency steps), chest pain or a stroke (call and stay: no sugar by mouth), or
self-harm (the crisis reply).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .situation import Finding, asks_what_a_therapy_implies

NGRAMS = (1, 4)  # character n-gram lengths, inside words

CLASSES = ("emergency", "personal_advice", "other")
# which emergency, by the reply it needs (the bank's emergency types hypo and dka share the steps for a low or DKA)
EMERGENCY_KINDS = ("low_or_dka", "chest_stroke", "self_harm")
_GROUPS = (
    "severe", "neuro", "autonomic", "dka", "chest", "stroke", "self_harm", "insulin_taken", "missed_meal",
    "low_reading", "high_reading", "diabetes", "insulin", "insulin_named", "immunosuppressant", "other", "change",
    "dose", "quantity", "dose_alone", "cured", "persons", "requests", "therapy", "outcome", "own_decision",
    "own_regimen", "conditional", "family",
)
_FRAMES = ("now", "past", "habitual", "hypothetical", "feared", "generic", "definition", "study", "explain", "resolved")


def lexicon_features(finding: Finding) -> np.ndarray:
    """Per group: found now, found in another frame; per frame: seen; readings now and elsewhere; and whether the
    lexicon reads a question about what a therapy makes possible (its own reason not to call a change advice)."""
    now = [1.0 if finding.now.get(g) else 0.0 for g in _GROUPS]
    other = [1.0 if finding.terms_outside(g, ("now",)) else 0.0 for g in _GROUPS]
    frames = [1.0 if f in finding.frames else 0.0 for f in _FRAMES]
    readings = [float(bool(finding.readings_now)), float(bool(finding.readings_elsewhere))]
    implies = [float(asks_what_a_therapy_implies(finding))]
    return np.array(now + other + frames + readings + implies, dtype=np.float32)


def features(finding: Finding, vector) -> np.ndarray:
    """The dense view: embedding, then the lexicon's findings."""
    return np.concatenate([np.asarray(vector, dtype=np.float32), lexicon_features(finding)])


def char_ngrams(text: str) -> list[str]:
    """Character n-grams of each whitespace word, padded with a space on both sides (the spelling view).

    A Chinese run without spaces is one word, so its n-grams are its 1- to 4-character substrings."""
    grams = []
    for word in text.split():
        padded = f" {word} "
        for n in range(NGRAMS[0], NGRAMS[1] + 1):
            grams.extend(padded[i:i + n] for i in range(max(len(padded) - n + 1, 1)))
    return grams


def spelling_vector(text: str, vocabulary: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices, values) of the message's tf-idf over known n-grams: sublinear tf, l2-normalised."""
    counts: dict[int, int] = {}
    for gram in char_ngrams(text):
        index = vocabulary.get(gram)
        if index is not None:
            counts[index] = counts.get(index, 0) + 1
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    indices = np.fromiter(counts, dtype=np.int64)
    values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32))) * idf[indices]
    return indices, values / np.linalg.norm(values)


@dataclass(frozen=True)
class ScreenNet:
    coef: np.ndarray  # (classes, dense features): embedding + lexicon findings
    spelling_coef: np.ndarray  # (classes, n-grams)
    intercept: np.ndarray  # (classes,)
    ngrams: tuple[str, ...]  # the n-gram vocabulary, in column order
    idf: np.ndarray  # (n-grams,)
    thresholds: dict[str, float]
    model: str  # the embedding model the weights were trained with
    fingerprint: str = ""  # safety_bank.training_fingerprint() of the data it was trained on
    # which emergency: a second logistic regression over EMERGENCY_KINDS, trained on the bank's emergencies only
    kind_coef: np.ndarray | None = None  # (kinds, dense features)
    kind_spelling_coef: np.ndarray | None = None  # (kinds, n-grams)
    kind_intercept: np.ndarray | None = None  # (kinds,)

    @functools.cached_property
    def vocabulary(self) -> dict[str, int]:
        return {gram: i for i, gram in enumerate(self.ngrams)}

    def _logits(self, coef, spelling_coef, intercept, finding: Finding, vector, text: str) -> np.ndarray:
        indices, values = spelling_vector(text, self.vocabulary, self.idf)
        return coef @ features(finding, vector) + spelling_coef[:, indices] @ values + intercept

    def probabilities(self, finding: Finding, vector, text: str) -> dict[str, float]:
        """text: the normalised message the finding was made from (safety.situation_text)."""
        return _softmax(CLASSES, self._logits(self.coef, self.spelling_coef, self.intercept, finding, vector, text))

    def emergency_kind(self, finding: Finding, vector, text: str) -> dict[str, float]:
        """For a message the net reads as an emergency: the probability of each of EMERGENCY_KINDS."""
        if self.kind_coef is None:
            return dict.fromkeys(EMERGENCY_KINDS, 1.0 / len(EMERGENCY_KINDS))
        return _softmax(EMERGENCY_KINDS, self._logits(self.kind_coef, self.kind_spelling_coef, self.kind_intercept,
                                                      finding, vector, text))

    def decide(self, finding: Finding, vector, text: str) -> tuple[str, float]:
        """("emergency" | "personal_advice" | "", probability) when a class passes its threshold."""
        probs = self.probabilities(finding, vector, text)
        for kind in ("emergency", "personal_advice"):
            if probs[kind] >= self.thresholds[kind]:
                return kind, probs[kind]
        return "", 0.0

    def save(self, path) -> None:
        np.savez_compressed(
            path, coef=self.coef, spelling_coef=self.spelling_coef, intercept=self.intercept,
            ngrams=np.array(self.ngrams), idf=self.idf, model=np.array(self.model),
            fingerprint=np.array(self.fingerprint), kind_coef=self.kind_coef,
            kind_spelling_coef=self.kind_spelling_coef, kind_intercept=self.kind_intercept,
            thresholds=np.array([self.thresholds["emergency"], self.thresholds["personal_advice"]]))


@functools.cache
def load_net() -> ScreenNet | None:
    """The shipped weights, or None when they are missing (the lexicon then decides alone)."""
    ref = resources.files("t1d_qa").joinpath("data/screen_net.npz")
    if not ref.is_file():
        return None
    with resources.as_file(ref) as path, np.load(path) as data:
        if "kind_coef" not in data:
            return None  # weights from before the emergency-type head: retrain (scripts/train_screen.py)
        emergency, advice = data["thresholds"].tolist()
        return ScreenNet(data["coef"], data["spelling_coef"], data["intercept"], tuple(data["ngrams"].tolist()),
                         data["idf"], {"emergency": emergency, "personal_advice": advice},
                         str(data["model"]), str(data["fingerprint"]), data["kind_coef"],
                         data["kind_spelling_coef"], data["kind_intercept"])


def _softmax(names: tuple[str, ...], logits: np.ndarray) -> dict[str, float]:
    exp = np.exp(logits - logits.max())
    return dict(zip(names, (exp / exp.sum()).tolist()))
