"""The learned net under the lexicon: catches emergencies and advice requests the lexicon misses.

A logistic regression over the packaged model's embedding of the message plus the lexicon's own
findings (which groups were found, in which frame). It is trained by scripts/train_screen.py on
the safety bank's train half and the answer library's questions (ordinary questions, many of them
about insulin), never on the frozen test half, and shipped as data/screen_net.npz. It can only add
a decision the lexicon did not make, and only when the message mentions the body or a medicine; a
high threshold, chosen by cross-validation on the train half, keeps false alarms rare.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .situation import Finding

CLASSES = ("emergency", "personal_advice", "other")
_GROUPS = (
    "severe", "neuro", "autonomic", "dka", "chest", "stroke", "self_harm", "insulin_taken", "missed_meal",
    "low_reading", "high_reading", "diabetes", "insulin", "insulin_named", "immunosuppressant", "other", "change",
    "dose", "quantity", "dose_alone", "cured", "persons", "requests", "therapy", "outcome", "own_decision",
    "own_regimen", "conditional", "family",
)
_FRAMES = ("now", "past", "habitual", "hypothetical", "generic", "definition", "study", "explain")


def lexicon_features(finding: Finding) -> np.ndarray:
    """Per group: found now, found in another frame; per frame: seen; readings now and elsewhere."""
    now = [1.0 if finding.now.get(g) else 0.0 for g in _GROUPS]
    other = [1.0 if finding.terms_outside(g, ("now",)) else 0.0 for g in _GROUPS]
    frames = [1.0 if f in finding.frames else 0.0 for f in _FRAMES]
    readings = [float(bool(finding.readings_now)), float(bool(finding.readings_elsewhere))]
    return np.array(now + other + frames + readings, dtype=np.float32)


def features(finding: Finding, vector) -> np.ndarray:
    return np.concatenate([np.asarray(vector, dtype=np.float32), lexicon_features(finding)])


@dataclass(frozen=True)
class ScreenNet:
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)
    thresholds: dict[str, float]
    model: str  # the embedding model the weights were trained with
    fingerprint: str = ""  # safety_bank.training_fingerprint() of the data it was trained on

    def probabilities(self, finding: Finding, vector) -> dict[str, float]:
        logits = self.coef @ features(finding, vector) + self.intercept
        exp = np.exp(logits - logits.max())
        return dict(zip(CLASSES, (exp / exp.sum()).tolist()))

    def decide(self, finding: Finding, vector) -> tuple[str, float]:
        """("emergency" | "personal_advice" | "", probability) when a class passes its threshold."""
        probs = self.probabilities(finding, vector)
        for kind in ("emergency", "personal_advice"):
            if probs[kind] >= self.thresholds[kind]:
                return kind, probs[kind]
        return "", 0.0

    def save(self, path) -> None:
        np.savez(path, coef=self.coef, intercept=self.intercept, model=np.array(self.model),
                 fingerprint=np.array(self.fingerprint),
                 thresholds=np.array([self.thresholds["emergency"], self.thresholds["personal_advice"]]))


@functools.cache
def load_net() -> ScreenNet | None:
    """The shipped weights, or None when they are missing (the lexicon then decides alone)."""
    ref = resources.files("t1d_qa").joinpath("data/screen_net.npz")
    if not ref.is_file():
        return None
    with resources.as_file(ref) as path, np.load(path) as data:
        emergency, advice = data["thresholds"].tolist()
        return ScreenNet(data["coef"], data["intercept"], {"emergency": emergency, "personal_advice": advice},
                         str(data["model"]), str(data["fingerprint"]) if "fingerprint" in data else "")
