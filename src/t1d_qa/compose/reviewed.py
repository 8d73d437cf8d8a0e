"""The library composer: a reviewed answer (corpus/answers/*.yaml) when the question matches one.

Tried before the extractive composer. Each sentence of an entry was verified against its cited
section at index time (library.py); here each gets the chunk of that section that supports it
best as its citation, with the supporting sentence as the quote.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from ..citations import Numbering, support, with_quotes
from ..config import Settings
from ..corpus import split_sentences
from ..library import Library, load_library
from . import Draft
from .matcher import (
    NEAREST_EVIDENCE_GAP, NEAREST_FLOOR, NEAREST_PASSAGES, NEAREST_SURE, FocusEvidence, Lexicon, Match, Matcher,
    cached_encoder, normalize,
)

log = logging.getLogger(__name__)


class LibraryComposer:
    name = "library"

    def __init__(self, settings: Settings, index, library: Library | None = None):
        self.index = index
        self.library = library if library is not None else load_library(settings.corpus_dir, strict=False)
        self.matcher: Matcher | None = None
        if len(self.library):
            # derived from the model and the library only (keyed by both), so kept with the model
            folder = settings.models_dir / "library"
            encode = cached_encoder(index.embeddings, folder / "question-vectors.npz")
            self.matcher = Matcher.load_or_train(self.library, encode, folder)
        self._sections: dict[tuple[str, str], list[tuple[str, str, dict]]] = {}
        sentences: dict[str, dict[str, None]] = {}  # distinct corpus sentences per language
        for chunk_id, text, meta in index.all_chunks():
            sentences.setdefault(meta.get("lang", ""), {}).update(dict.fromkeys(split_sentences(text)))
            path = meta.get("section", "").split(" > ")
            if len(path) > 1:
                self._sections.setdefault((meta.get("doc_id", ""), path[1]), []).append((chunk_id, text, meta))
        # what the corpus says about each focus, per language, for Lexicon.absent_focus: built with
        # the index generation, never per question
        lexicon = Lexicon.load_default()
        self.focus_evidence: dict[str, FocusEvidence] = {
            lang: FocusEvidence(lexicon, (normalize(s) for s in found)) for lang, found in sentences.items()
        }
        for evidence in self.focus_evidence.values():
            evidence.fill()

    def match(self, question: str, language: str, query_vector) -> list[Match]:
        if self.matcher is None:
            return []
        return self.matcher.match(question, language, query_vector, self.index.embeddings.embed_query)

    def compose(self, question: str, language: str, query_vector) -> Draft:
        """The reviewed answer(s) for the question, or an empty Draft when no entry matches."""
        matches = self.match(question, language, query_vector)
        if not matches:
            return Draft("")
        try:
            return self._draft(matches, language)
        except LookupError as exc:  # an entry cites a section the index does not hold yet
            log.warning("library entry %s not used: %s", matches[0].entry.id, exc)
            return Draft("")

    def nearest(self, question: str, language: str, query_vector, passages) -> Draft:
        """When no entry matches: the closest entry the retrieved evidence agrees with, under its own question,
        with the other close entries' questions as suggestions; empty when none does (the extractive composer
        answers then).

        The classifier (which entry, `Matcher.nearest`, at least NEAREST_FLOOR) and the retriever (which
        passages) read the question independently. An entry agrees when it cites the section of one of the top
        NEAREST_PASSAGES passages, or when the best sentence of the sections it cites is about as close to the
        question as the best sentence of those passages (within NEAREST_EVIDENCE_GAP); or the classifier is all
        but sure of it (NEAREST_SURE: "Do you need anti-rejection drugs with zimislecel?", 0.9998). "What are the warning
        signs of DKA?" -> how to tell a genuine trial: the trial sections' best sentence is 0.05 below the
        DKA section's, so it is not shown; "天津那个病人后来怎么样了" -> the CiPSC study's durability: 0.01."""
        if self.matcher is None:
            return Draft("")
        near = [m for m in self.matcher.nearest(question, language, query_vector) if m.confidence >= NEAREST_FLOOR]
        top = passages[:NEAREST_PASSAGES]
        if not near or not top:  # no evidence retrieved, nothing to agree
            return Draft("")
        found = {(p.metadata.get("doc_id", ""), (p.metadata.get("section", "").split(" > ") + [""])[1]) for p in top}
        vector = np.asarray(query_vector, dtype=np.float32)
        best = self._closest_sentence([p.chunk_id for p in top], vector)

        def agrees(m: Match) -> bool:
            cited = {(s.doc_id, s.heading) for s in m.entry.answer}
            if m.confidence >= NEAREST_SURE or cited & found:
                return True
            chunks = [c for key in cited for c, _, _ in self._sections.get(key, [])]
            return self._closest_sentence(chunks, vector) >= best - NEAREST_EVIDENCE_GAP

        chosen = next((m for m in near if agrees(m)), None)
        if chosen is None:
            return Draft("")
        try:
            draft = self._draft([chosen], language, titled=True)
        except LookupError as exc:
            log.warning("library entry %s not used: %s", chosen.entry.id, exc)
            return Draft("")
        others = tuple(m.entry.question for m in near if m is not chosen)
        return replace(draft, nearest=True, general=False, suggestions=others)

    def _closest_sentence(self, chunk_ids: list[str], vector: np.ndarray) -> float:
        """The highest similarity of the question to a sentence of these chunks (index-time vectors)."""
        found = self.index.sentence_vectors(list(dict.fromkeys(chunk_ids)))
        return max((float(v @ vector) for sentences in found.values() for _, v in sentences), default=-1.0)

    def _draft(self, matches: list[Match], language: str, titled: bool = False) -> Draft:
        numbering, used, texts, pairs, blocks = Numbering(), {}, {}, [], []
        for m in matches:
            parts = []
            for sentence in m.entry.answer:
                chunk_id, text, meta, quote = self._source(sentence.doc_id, sentence.heading, sentence.text)
                n = numbering.cite(chunk_id, meta, quote)
                used.setdefault(chunk_id, []).append(quote)
                texts[chunk_id] = text
                parts.append(f"{sentence.text}[{n}]" if language == "zh" else f"{sentence.text} [{n}]")
                pairs.append((sentence.text, chunk_id))
            body = ("" if language == "zh" else " ").join(parts)
            blocks.append(f"{m.entry.question}\n{body}" if len(matches) > 1 or titled else body)
        return Draft(
            "\n\n".join(blocks), with_quotes(numbering.citations, texts, used), tuple(pairs),
            source="library", entries=tuple(m.entry for m in matches),
            general=any(m.how == "general" for m in matches),
        )

    def _source(self, doc_id: str, heading: str, sentence: str) -> tuple[str, str, dict, str]:
        """(chunk id, chunk text, metadata, quote): the sentence of the cited section closest to ours."""
        best = None
        for chunk_id, text, meta in self._sections.get((doc_id, heading), []):
            for line in text.splitlines():
                for piece in split_sentences(line):
                    score = support(sentence, piece)
                    if piece in text and (best is None or score > best[0]):
                        best = (score, chunk_id, text, meta, piece)
        if best is None:  # the index is older than the library: `t1d-qa index` brings them together
            raise LookupError(f"no indexed chunk for {doc_id} § {heading}; run `t1d-qa index`")
        return best[1], best[2], best[3], best[4]

