"""Grounded extractive composition: verbatim sentences from the retrieved passages, cited.

No language model writes anything: each sentence of an answer is a sentence of the corpus,
picked by its index-time vector's similarity to the question, with near-duplicates removed.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from .. import safety
from ..citations import Citation, Numbering, ngrams, quote_span, with_quotes
from ..config import Settings
from ..corpus import language_of
from ..retrieval import Passage
from . import Draft
from .matcher import Lexicon, normalize

DUPLICATE_COSINE = 0.93
# A sentence this far below the best one is filler, not an answer.
SCORE_MARGIN = 0.05
NEW_SOURCE_BONUS = 0.015
KIND_PRIOR = 0.06
# What the question asks for -> the reference-card sections that answer it. "What did the trial
# find?" is answered by its results section, which the embedding alone ranks below sentences that
# merely repeat the trial's name ("The trial is sponsored by the manufacturer.").
INTENTS = (
    (re.compile(r"(find|found|result|outcome|work|effective|efficacy|success|效果|结果|发现|疗效|怎么样|成功|"
                r"stop insulin|off insulin|insulin[- ]free|停用胰岛素|停胰岛素|不用胰岛素|不再需要胰岛素|摆脱胰岛素)", re.I),
     re.compile(r"(results?|结果|what it means|意味着|对患者)", re.I)),
    (re.compile(r"(risk|safe|side effect|danger|die|died|death|adverse|风险|安全|副作用|不良|死亡|危险)", re.I),
     re.compile(r"(safety|limitations|安全性|局限)", re.I)),
)
INTENT_PRIOR = 0.03
INTENT_SEARCH = 30  # reviewed chunks searched for a section of the kind asked for
REVIEWED_EXTRA = 3  # reviewed passages added to the pool (see ExtractiveComposer._reviewed)
REVIEWED_MARGIN = 0.05
CITATION_PENALTY = 0.03
# Sections that are shown as sources but never read out as answers: the article's own
# disclaimer, reference list and the notes about where it came from.
# The safety sheet's first section is what the fixed emergency reply rests on (the numbers to call, the
# crisis line): quoted into an ordinary answer it reads as an alarm ("do I need to live in China to join
# the Tianjin study?" got the suicide hotline). Questions about it are answered by the library.
NOT_ANSWER_SECTIONS = re.compile(r"(免责说明|参考资料|编者说明|Disclaimer|References|About this translation|"
                                 r"紧急情况先看这里|In an emergency, read this first)", re.I)
EDITOR_NOTE = ("编者注", "Editor's note")
# Bibliographic sections (authors, DOI, dates) answer "where was it published?", rarely anything
# else; the citation list under each answer already carries them.
CITATION_SECTIONS = re.compile(r"(完整引用|full citation)", re.I)
CITATION_QUESTION = re.compile(r"(doi|pmid|nct|chictr|引用|出处|发表|期刊|作者|登记号|注册号|publish|journal|author|cite|registration)", re.I)
# Where the clinic's article overstates, and the article's own words: they answer a question about the article
# or a claim ("is it true that…", "the ad says…"); read into any other answer they are an editor's notes
# ("The clinic's article says … but leaves out …" before a patient's question is answered).
ARTICLE_CHECK = re.compile(r"(where the clinic's article differs|诊所文章与原论文的差异|诊所文章|the clinic's article)", re.I)
ARTICLE_QUESTION = re.compile(r"(article|文章|\bads?\b|advert|广告|news|新闻|报道|claim|true|是真的|真的假的|说的|宣传|夸大|overstat|exaggerat)", re.I)
ARTICLE_PENALTY = 0.03
# Questions whose answer is a number: the first sentence must hold one.
ASKS_NUMBER = re.compile(r"(how many|how much|how long|how old|what age|when|多少|几|多久|多长|什么时候|哪一年|几岁)")
LIMITATION_QUERY = {
    "zh": "这项研究的局限性：样本量小、需要长期免疫抑制、随访时间短、尚未获批",
    "en": "Limitations of the study: very small numbers, lifelong immunosuppression, short follow-up, not approved",
}


class ExtractiveComposer:
    name = "extractive"

    def __init__(self, settings: Settings, index):
        self.settings = settings
        self.index = index
        self._limitation_vectors: dict[str, list[float]] = {}

    def compose(self, question: str, language: str, passages: list[Passage], query_vector) -> Draft:
        sections = _intent_sections(question)
        passages = passages + self._reviewed(sections, language, passages, query_vector)
        candidates = self._candidates(question, sections, language, passages, np.asarray(query_vector, np.float32))
        if not candidates:
            return Draft("")
        chosen = _lead_with_what_is_asked(question, _select(candidates, self.settings.max_answer_sentences))
        numbering = Numbering()
        parts, pairs = [], []
        used: dict[str, list[str]] = {}
        texts = {c.passage.chunk_id: c.passage.text for c in chosen}
        for cand in chosen:
            n = numbering.cite(cand.passage.chunk_id, cand.passage.metadata, cand.sentence)
            used.setdefault(cand.passage.chunk_id, []).append(cand.sentence)
            shown = cand.display
            parts.append(f"{shown}[{n}]" if language == "zh" else f"{shown} [{n}]")
            pairs.append((shown, cand.passage.chunk_id))
        text = ("" if language == "zh" else " ").join(parts)
        return Draft(text, with_quotes(numbering.citations, texts, used), tuple(pairs))

    def _reviewed(self, sections: re.Pattern | None, language: str, passages: list[Passage],
                  query_vector) -> list[Passage]:
        """The closest passages of the project's own reviewed text (reference cards, safety sheet).

        A general question ("can stem cells cure type 1 diabetes?") lands on the commercial
        article, whose wording overstates; the reviewed text that answers it joins the pool when
        it is about as close to the question as the retrieved passages.
        """
        if not passages:
            return []
        seen = {p.chunk_id for p in passages}
        floor = max(p.dense for p in passages) - REVIEWED_MARGIN
        where = {"$and": [{"lang": language}, {"kind": {"$in": ["reference", "safety"]}}]}
        hits = self.index.search(list(query_vector), INTENT_SEARCH if sections else REVIEWED_EXTRA, where=where)
        close = [h for h in hits[:REVIEWED_EXTRA] if h.similarity >= floor]
        # the best sections of the kind the question asks for, if the search found them
        wanted = [h for h in hits if sections and sections.search(h.metadata.get("section", "").split(">")[-1])]
        extra, out = close + wanted[:REVIEWED_EXTRA], []
        low = min(p.score for p in passages)  # ranked as the last retrieved passage
        for h in extra:
            if h.chunk_id not in seen:
                seen.add(h.chunk_id)
                out.append(Passage(h.chunk_id, h.text, h.metadata, h.similarity, 0.0, low))
        return out

    def balance(self, draft: Draft, language: str) -> Draft:
        """Add the best limitation sentence (same study first) to an answer that reports a success."""
        cited = sorted({c.doc_id for c in draft.citations})
        where = {"$and": [{"lang": language}, {"$or": [{"doc_id": {"$in": cited}}, {"kind": "reference"}]}]}
        q = np.asarray(self._limitation_query(language), np.float32)
        hits = self.index.search(q.tolist(), 12, where=where)
        vectors = self.index.sentence_vectors([h.chunk_id for h in hits])
        used = {s for s, _ in draft.sentences}
        best = None
        for hit in hits:
            bonus = 0.05 if hit.metadata.get("doc_id") in cited else 0.0
            for sentence, vec in vectors.get(hit.chunk_id, []):
                display = _display(sentence)
                if display in used or not safety.is_limitation(display) or not _is_answer_sentence(display):
                    continue
                if not safety.allowed_sentence(sentence, hit.metadata):
                    continue
                score = float(vec @ q) + bonus
                if best is None or score > best[0]:
                    best = (score, display, sentence, hit)
        if best is None:
            return draft
        _, display, sentence, hit = best
        numbers = {c.chunk_id: c.n for c in draft.citations}
        n = numbers.get(hit.chunk_id, len(numbers) + 1)
        citations = list(draft.citations)
        if hit.chunk_id not in numbers:
            citations.append(Citation.from_metadata(n, hit.chunk_id, hit.metadata, sentence))
        else:  # the chunk is cited already: its quote must now also hold this sentence
            c = next(c for c in citations if c.chunk_id == hit.chunk_id)
            citations[citations.index(c)] = replace(c, quote=quote_span(hit.text, [c.quote, sentence]))
        glue = "" if language == "zh" else " "
        marker = f"[{n}]" if language == "zh" else f" [{n}]"
        return Draft(f"{draft.text}{glue}{display}{marker}", citations, draft.sentences + ((display, hit.chunk_id),))

    def _limitation_query(self, language: str):
        if language not in self._limitation_vectors:
            self._limitation_vectors[language] = self.index.embeddings.embed_query(LIMITATION_QUERY[language])
        return self._limitation_vectors[language]

    def _candidates(self, question: str, sections: re.Pattern | None, language: str, passages: list[Passage],
                    q: np.ndarray) -> list[_Candidate]:
        same = [p for p in passages if p.lang == language]
        pool = same or passages  # cross-language fallback when nothing in the question's language
        vectors = self.index.sentence_vectors([p.chunk_id for p in pool])
        asks_citation = bool(CITATION_QUESTION.search(question))
        asks_article = bool(ARTICLE_QUESTION.search(question))
        lexicon = Lexicon.load_default()
        named = lexicon.entities_in(normalize(question)) - {"article", "general"}
        out = []
        for rank, passage in enumerate(pool):
            for sentence, vec in vectors.get(passage.chunk_id, []):
                display = _display(sentence)
                if not _is_answer_sentence(display) or not safety.allowed_sentence(sentence, passage.metadata):
                    continue
                if NOT_ANSWER_SECTIONS.search(passage.metadata.get("section", "")):
                    continue
                if named and _about_another(lexicon, named, passage.metadata.get("section", ""), display):
                    continue  # a sentence about another study than the one asked about
                similarity = float(vec @ q)
                score = similarity + 0.04 * passage.score - 0.005 * min(rank, 4) + _prior(display, passage.metadata)
                section = passage.metadata.get("section", "")
                if not asks_citation and CITATION_SECTIONS.search(section):
                    score -= CITATION_PENALTY
                if not asks_article and (ARTICLE_CHECK.search(section.split(">")[-1]) or ARTICLE_CHECK.match(display)):
                    score -= ARTICLE_PENALTY
                if sections and sections.search(section.split(">")[-1]):
                    score += INTENT_PRIOR
                out.append(_Candidate(display, sentence, passage, vec, similarity, score))
        out.sort(key=lambda c: c.score, reverse=True)
        return out


class _Candidate:
    __slots__ = ("display", "sentence", "passage", "vector", "similarity", "score")

    def __init__(self, display, sentence, passage, vector, similarity, score):
        self.display, self.sentence, self.passage = display, sentence, passage
        self.vector, self.similarity, self.score = vector, similarity, score


def _select(candidates: list[_Candidate], limit: int) -> list[_Candidate]:
    """Greedy pick: best first, no near-duplicates, a small preference for a new source."""
    best = candidates[0].score
    chosen: list[_Candidate] = []
    pool = [c for c in candidates if c.score >= best - SCORE_MARGIN]
    while pool and len(chosen) < limit:
        cited = {c.passage.chunk_id for c in chosen}
        pick = max(pool, key=lambda c: c.score + (NEW_SOURCE_BONUS if c.passage.chunk_id not in cited else 0))
        pool.remove(pick)
        if any(_duplicate(pick, c) for c in chosen):
            continue
        chosen.append(pick)
    return chosen


def _duplicate(a: _Candidate, b: _Candidate) -> bool:
    if float(a.vector @ b.vector) >= DUPLICATE_COSINE:
        return True
    n = 2 if language_of(a.display) == "zh" else 1
    ga, gb = ngrams(a.display, n), ngrams(b.display, n)
    return bool(ga) and len(ga & gb) / len(ga) >= 0.8


_ALL_INTENT_SECTIONS = re.compile("|".join(sections.pattern for _, sections in INTENTS), re.I)


def _intent_sections(question: str) -> re.Pattern | None:
    """The section pattern for what the question asks (results, risks), or None."""
    matched = [sections for asks, sections in INTENTS if asks.search(question)]
    if not matched:
        return None
    return matched[0] if len(matched) == 1 else _ALL_INTENT_SECTIONS


def _about_another(lexicon: Lexicon, named: set[str], section: str, sentence: str) -> bool:
    about = lexicon.entities_in(normalize(f"{section.split(' > ')[-1]} {sentence}")) - {"article", "general"}
    return bool(about) and not about & named


def _lead_with_what_is_asked(question: str, chosen: list[_Candidate]) -> list[_Candidate]:
    """A 'how many / how long / when' question leads with a sentence that has a number in it."""
    if not ASKS_NUMBER.search(normalize(question)):
        return chosen
    with_number = [c for c in chosen if re.search(r"\d", c.display)]
    return (with_number[:1] + [c for c in chosen if c is not with_number[0]]) if with_number else chosen


def _prior(sentence: str, metadata: dict) -> float:
    """Prefer the project's own reviewed text (reference cards, safety sheet, editor's notes)
    over the commercial article's wording, which overstates some results."""
    if metadata.get("kind") in ("reference", "safety") or sentence.startswith(EDITOR_NOTE):
        return KIND_PRIOR
    return 0.0


def _display(sentence: str) -> str:
    """The sentence as shown: a list marker dropped, the words unchanged."""
    return re.sub(r"^([-*•]|\d+[.)、])\s+", "", sentence.strip())


def _is_answer_sentence(text: str) -> bool:
    if text.startswith("|"):
        return False  # table rows are shown in the sources panel, not read out as prose
    if text.rstrip("”\"」』）) ").endswith(("?", "？")):
        return False  # a question restated is not an answer
    if text.rstrip().endswith((":", "：")):
        return False  # a lead-in to a list says nothing alone
    if re.match(r"(the (table|list) (below|above )?(shows|lists|gives)|下表|上表|表中|如下表)", text, re.I):
        return False  # points at a table that the answer does not show
    if language_of(text) == "zh":
        return len(re.findall(r"[\u3400-\u9fff]", text)) >= 8
    return len(text.split()) >= 5
