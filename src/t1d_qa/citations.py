"""Citations: numbered by code from chunk ids held in state, checked after composing."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

from .corpus import language_of

MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Citation:
    n: int
    chunk_id: str
    doc_id: str
    title: str
    section: str
    source: str
    quote: str
    reviewed: str = ""  # the cited document's review date
    as_of: str | None = None  # set when the cited section is time-sensitive: its facts held on this date

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_metadata(cls, n: int, chunk_id: str, metadata: dict, quote: str) -> Citation:
        """A citation of an indexed chunk, carrying its document's dates."""
        return cls(
            n=n,
            chunk_id=chunk_id,
            doc_id=metadata.get("doc_id", ""),
            title=metadata.get("title", ""),
            section=metadata.get("section", ""),
            source=metadata.get("source", ""),
            quote=quote,
            reviewed=metadata.get("reviewed", ""),
            as_of=metadata.get("as_of") or None,
        )

    def dates(self, language: str) -> str:
        """'reviewed 2026-11-29; as of 2026-11-29' in the reader's language ('' when undated)."""
        zh = language == "zh"
        parts = [f"{'审核日期' if zh else 'reviewed'} {self.reviewed}"] if self.reviewed else []
        if self.as_of:
            parts.append(f"{'信息截至' if zh else 'as of'} {self.as_of}")
        return ("；" if zh else "; ").join(parts)


class Numbering:
    """Gives each cited chunk a number in order of first use."""

    def __init__(self):
        self._numbers: dict[str, int] = {}
        self._citations: list[Citation] = []

    def cite(self, chunk_id: str, metadata: dict, quote: str) -> int:
        if chunk_id not in self._numbers:
            n = len(self._numbers) + 1
            self._numbers[chunk_id] = n
            self._citations.append(Citation.from_metadata(n, chunk_id, metadata, quote))
        return self._numbers[chunk_id]

    @property
    def citations(self) -> list[Citation]:
        return list(self._citations)


def quote_span(chunk_text: str, sentences: list[str]) -> str:
    """The shortest verbatim stretch of the chunk that holds every given sentence.

    A chunk cited for two sentences gets one number; its quote must show both. Sentences not
    found verbatim are ignored; with none found, the first sentence is returned as it is.
    """
    spans = []
    for sentence in sentences:
        start = chunk_text.find(sentence)
        if start >= 0:
            spans.append((start, start + len(sentence)))
    if not spans:
        return sentences[0] if sentences else ""
    return chunk_text[min(s for s, _ in spans) : max(e for _, e in spans)]


def with_quotes(citations: list[Citation], chunk_texts: dict[str, str], used: dict[str, list[str]]) -> list[Citation]:
    """Citations whose quotes cover all the sentences used from each chunk."""
    out = []
    for c in citations:
        text, sentences = chunk_texts.get(c.chunk_id), used.get(c.chunk_id)
        if text and sentences:
            c = replace(c, quote=quote_span(text, sentences))
        out.append(c)
    return out


def markers(text: str) -> list[int]:
    return [int(m) for m in MARKER.findall(text)]


def strip_markers(text: str) -> str:
    return MARKER.sub("", text).strip()


def ngrams(text: str, n: int) -> set:
    """Character n-grams for Chinese, word n-grams (n=1: words) for English."""
    text = strip_markers(text).lower()
    if language_of(text) == "zh":
        chars = re.sub(r"[\s\W_]+", "", text)
        return {chars[i : i + n] for i in range(max(0, len(chars) - n + 1))}
    words = re.findall(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*", text)
    return {" ".join(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def support(sentence: str, quote: str) -> float:
    """Share of the sentence's n-grams (Chinese bigrams, English words) found in the quote."""
    n = 2 if language_of(sentence) == "zh" else 1
    grams = ngrams(sentence, n)
    if not grams:
        return 0.0
    return len(grams & ngrams(quote, n)) / len(grams)


def check_citations(text: str, citations: list[Citation], chunk_texts: dict[str, str]) -> list[str]:
    """Problems with the citations of an answer: unknown markers, non-verbatim quotes."""
    problems = []
    numbers = {c.n for c in citations}
    for n in markers(text):
        if n not in numbers:
            problems.append(f"[{n}] has no citation")
    for c in citations:
        chunk = chunk_texts.get(c.chunk_id)
        if chunk is None:
            problems.append(f"[{c.n}] cites unknown chunk {c.chunk_id}")
        elif not c.quote or c.quote not in chunk:
            problems.append(f"[{c.n}] quote is not verbatim text of {c.chunk_id}")
    return problems
