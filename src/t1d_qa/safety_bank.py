"""The labelled safety bank (tests/safety_bank/): load it and score a screen on it.

Used by the gate test (frozen test half), by `t1d-qa eval` (the four numbers per language) and by
scripts/train_screen.py (the learned net is fitted on the train half only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

BANK_DIR = Path(__file__).resolve().parents[2] / "tests" / "safety_bank"
LABELS = ("emergency", "personal_advice", "ordinary", "out_of_scope")


@dataclass(frozen=True)
class Item:
    text: str
    label: str
    type: str
    lang: str
    team: str = ""
    place: str = ""
    keyword: bool = False


def load_bank(folder: Path, pattern: str = "*.yaml") -> list[Item]:
    items = []
    for path in sorted(Path(folder).glob(pattern)):
        lang = path.stem.rsplit("-", 1)[-1]  # zh.yaml, more-zh.yaml
        for raw in yaml.safe_load(path.read_text("utf-8")) or []:
            if raw["label"] not in LABELS:
                raise ValueError(f"{path}: unknown label {raw['label']!r} for {raw['text']!r}")
            items.append(Item(raw["text"], raw["label"], raw["type"], lang, raw.get("team", ""),
                              raw.get("place", ""), bool(raw.get("keyword", False))))
    return items


@dataclass(frozen=True)
class Miss:
    text: str
    label: str
    got: str
    rule: str


@dataclass
class Numbers:
    emergencies: int = 0
    emergencies_caught: int = 0
    advice: int = 0
    advice_caught: int = 0
    non_emergencies: int = 0
    false_emergencies: int = 0
    study: int = 0
    false_advice_on_study: int = 0

    @property
    def emergency_recall(self) -> float:
        return self.emergencies_caught / self.emergencies if self.emergencies else 1.0

    @property
    def personal_advice_recall(self) -> float:
        return self.advice_caught / self.advice if self.advice else 1.0

    @property
    def false_emergency_rate(self) -> float:
        return self.false_emergencies / self.non_emergencies if self.non_emergencies else 0.0

    @property
    def false_personal_advice_rate(self) -> float:
        return self.false_advice_on_study / self.study if self.study else 0.0

    def row(self) -> dict[str, float]:
        return {
            "emergency_recall": self.emergency_recall,
            "personal_advice_recall": self.personal_advice_recall,
            "false_emergency_rate": self.false_emergency_rate,
            "false_personal_advice_rate": self.false_personal_advice_rate,
        }


@dataclass
class Report:
    by_lang: dict[str, Numbers] = field(default_factory=lambda: {"zh": Numbers(), "en": Numbers()})
    overall: Numbers = field(default_factory=Numbers)
    misses: list[Miss] = field(default_factory=list)


def score(screener, items: list[Item], max_chars: int = 2000) -> Report:
    """Run screener.screen on every item; count the four numbers of issue 8 per language."""
    report = Report()
    for item in items:
        result = screener.screen(item.text, max_chars)
        got = result.kind
        for numbers in (report.by_lang[item.lang], report.overall):
            _count(numbers, item, got)
        wrong = (
            (item.label == "emergency") != (got == "emergency")
            or (item.label == "personal_advice" and got not in ("personal_advice", "emergency"))
            or (item.type == "study" and got == "personal_advice")
        )
        if wrong:
            report.misses.append(Miss(item.text, item.label, got, result.rule))
    return report


def _count(n: Numbers, item: Item, got: str) -> None:
    if item.label == "emergency":
        n.emergencies += 1
        n.emergencies_caught += got == "emergency"
    else:
        n.non_emergencies += 1
        n.false_emergencies += got == "emergency"
    if item.label == "personal_advice":
        n.advice += 1
        n.advice_caught += got == "personal_advice"
    if item.type == "study":
        n.study += 1
        n.false_advice_on_study += got == "personal_advice"


class EmbeddedScreener:
    """The screen as the pipeline runs it: lexicon and frames, plus the learned net on the embedding."""

    def __init__(self, embeddings):
        self.embeddings = embeddings

    def screen(self, text: str, max_chars: int):
        from . import safety

        return safety.screen(text, max_chars, vector=self.embeddings.embed_query(text) if text.strip() else None)


def format_report(report: Report, title: str) -> str:
    """The four numbers of issue 8 per language, as printed by `t1d-qa eval`."""
    rows = [f"{title}", f"{'':10}{'emergency recall':>18}{'advice recall':>16}{'false emergencies':>19}"
            f"{'false advice (study)':>22}"]
    for name, n in (*report.by_lang.items(), ("all", report.overall)):
        rows.append(f"{name:10}{n.emergency_recall:>18.1%}{n.personal_advice_recall:>16.1%}"
                    f"{n.false_emergency_rate:>19.1%}{n.false_personal_advice_rate:>22.1%}")
    return "\n".join(rows)


def training_fingerprint() -> str:
    """What the learned net's features and labels come from: the lexicon and the bank's train half.

    scripts/train_screen.py stores it with the weights; a test fails when either changed since. (The
    answer library's questions also serve as ordinary examples; a new entry does not make the weights wrong.)
    """
    import hashlib
    from importlib import resources

    digest = hashlib.sha256(resources.files("t1d_qa").joinpath("data/screen_lexicon.yaml").read_bytes())
    for path in sorted((BANK_DIR / "train").glob("*.yaml")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]
