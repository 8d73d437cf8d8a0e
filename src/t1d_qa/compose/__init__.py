"""Answer composers behind one protocol; chosen by a name such as "extractive"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..citations import Citation
from ..config import ConfigError, Settings
from ..retrieval import Passage


@dataclass(frozen=True)
class Draft:
    """Composed answer text with [n] markers and the citations they point to."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    sentences: tuple[tuple[str, str], ...] = ()  # (sentence, chunk id) in answer order
    source: str = "extractive"  # "library": reviewed entries; "extractive": corpus sentences
    entries: tuple = ()  # the library entries answered (library.Entry), best first
    general: bool = False  # a named study's question answered by the general entry for its aspect
    nearest: bool = False  # no entry matched: the closest one, shown under its own question
    suggestions: tuple[str, ...] = ()  # questions of the next closest entries, to ask instead

    @property
    def empty(self) -> bool:
        return not self.text.strip()


class Composer(Protocol):
    name: str

    def compose(self, question: str, language: str, passages: list[Passage], query_vector) -> Draft:
        """An answer from the passages only, or an empty Draft when they do not answer it."""
        ...


COMPOSERS = ("extractive",)


def get_composer(spec: str, settings: Settings, index) -> Composer:
    kind, _, _arg = spec.partition(":")
    match kind:
        case "extractive":
            from .extractive import ExtractiveComposer

            return ExtractiveComposer(settings, index)
        case _:
            raise ConfigError(f"unknown composer {spec!r}; available: {', '.join(COMPOSERS)}")
