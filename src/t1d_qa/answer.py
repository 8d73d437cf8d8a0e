"""The answer chain: screen -> retrieve -> compose -> check, one LangChain Runnable.

Every reply, of every kind (refusals and errors too), leaves here with the disclaimer and the
AI-generated label attached by code.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from . import replies, safety
from .citations import Citation
from .compose import Draft, get_composer
from .config import ConfigError, Settings
from .corpus import chunk_corpus, corpus_fingerprint, load_corpus
from .embeddings import load_embeddings
from .followup import focus, repeats, resolve
from .index import Index
from .retrieval import HybridRetriever

log = logging.getLogger(__name__)
# A question whose specific words mostly never occur in the corpus is not covered by it, however
# close its vector lands ("can I eat sweets after the transplant?" sits near every passage).
MIN_COVERAGE = 0.5
KINDS = ("answer", "no_answer", "emergency", "personal_advice", "out_of_scope", "invalid")


@dataclass(frozen=True)
class Answer:
    """One reply; to_dict() is the JSON contract shared by the CLI, the HTTP API and eval."""

    question: str
    language: str
    kind: str
    answer: str
    disclaimer: str
    ai_label: str
    citations: list[Citation] = field(default_factory=list)
    id: str | None = None
    answer_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    resolved_question: str = ""
    passages: list[str] = field(default_factory=list)  # retrieved chunk ids, best first
    latency_ms: int = 0
    source: str | None = None  # "library" | "extractive" for answers composed from the corpus
    entries: list[dict] = field(default_factory=list)  # library entries used: {"id", "reviewed"}
    suggestions: list[str] = field(default_factory=list)  # no entry matched: questions to ask instead

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "answer_id": self.answer_id,
            "question": self.question,
            "resolved_question": self.resolved_question or self.question,
            "language": self.language,
            "kind": self.kind,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "disclaimer": self.disclaimer,
            "ai_label": self.ai_label,
            "retrieved": self.passages,
            "latency_ms": self.latency_ms,
            "source": self.source,
            "entry_id": self.entries[0]["id"] if self.entries else None,
            "reviewed": self.entries[0]["reviewed"] if self.entries else None,
            "entries": self.entries,
            "suggestions": self.suggestions,
        }


class Pipeline:
    """Loaded parts (model, index, retriever, composer) and the chain that uses them."""

    def __init__(self, settings: Settings, index: Index):
        check_settings(settings)
        self.settings = settings
        self.index = index
        self.retriever = HybridRetriever(
            index=index, k=settings.top_k, lexical_weight=settings.lexical_weight
        )
        self.composer = get_composer(settings.composer, settings, index)
        from .compose.reviewed import LibraryComposer

        self.library = LibraryComposer(settings, index)  # reviewed answers come first
        self.chain: Runnable = (
            RunnableLambda(self._screen, name="screen")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableLambda(self._compose, name="compose")
            | RunnableLambda(self._check, name="check")
        )

    @classmethod
    def load(cls, settings: Settings, announce=print) -> Pipeline:
        """Open model and index; build the index first if it is empty."""
        index = Index(settings, load_embeddings(settings))
        if index.is_empty():
            announce(f"The index at {settings.chroma_url or settings.index_dir} is empty; building it now...")
            report = index.sync(chunk_corpus(load_corpus(settings.corpus_dir)), progress=True)
            announce(report.describe())
        return cls(settings, index)

    def reloaded(self) -> Pipeline | None:
        """A new Pipeline on the index generation now in service, or None when this one still is.

        The one place a running server picks up a new index: the constructor rebuilds everything
        derived from it (lexical index, vocabulary, composer state), and warm() fills the caches
        before the new pipeline takes any request."""
        serving = self.index.in_service()
        if not serving or serving == self.index.generation:
            return None
        fresh = type(self)(self.settings, self.index.reopened(serving))
        fresh.warm()
        return fresh

    def warm(self) -> None:
        """Build the lazy parts (BM25, vocabulary) now rather than on the first question."""
        self.retriever.coverage("type 1 diabetes")

    def health(self) -> dict[str, Any]:
        """The generation in service and whether it can answer: counted and queried, not assumed."""
        meta = self.index.metadata
        report = {"generation": self.index.generation, "chunks": self.index.count(),
                  "corpus_fingerprint": meta.get("corpus_fingerprint"), "embedding_model": meta.get("embedding_model")}
        report["can_answer"] = self.index.probe()
        return report

    def ask(self, question: str, history=None, id: str | None = None) -> Answer:
        started = time.perf_counter()
        state = self.chain.invoke({"question": question, "history": history or [], "id": id})
        answer: Answer = state["answer"]
        return _with_latency(answer, started)

    # -- steps; each takes and returns the state dict

    def _screen(self, state: dict) -> dict:
        question = state["question"]
        resolved = resolve(question, state["history"]) if isinstance(question, str) else ""
        # retrieval and the library read the corpus's simplified characters ("參加臨床試驗" finds "参加临床试验")
        state["resolved"] = resolved = safety.simplified(resolved)
        first = state["screen"] = safety.screen(question, self.settings.max_question_chars, self._vector(state, question))
        typed = safety.simplified(question) if isinstance(question, str) else ""
        if resolved != typed and first.kind not in ("invalid", "emergency"):
            # The follow-up's topic counts ("那现在2.5呢？" after a question about low glucose):
            # the resolved question's screen is used when it is ok-to-answer or more severe.
            again = safety.screen(resolved, self.settings.max_question_chars * 2, self._vector(state, resolved))
            if first.kind == "ok" or again.kind in ("emergency", "personal_advice"):
                state["screen"] = replace(again, language=first.language)
        return state

    def _vector(self, state: dict, text: str):
        """The text's query embedding, computed once per question (the screen and retrieval share it)."""
        vectors = state.setdefault("vectors", {})
        if not isinstance(text, str) or len(text) > 2 * self.settings.max_question_chars:
            return None  # an over-long message is screened by the lexicon alone, never embedded
        if text.strip() and text not in vectors:
            vectors[text] = self.index.embeddings.embed_query(text)
        return vectors.get(text)

    def _retrieve(self, state: dict) -> dict:
        state["passages"] = []
        if state["screen"].kind in ("invalid", "emergency", "out_of_scope"):
            return state
        state["query_vector"] = self._vector(state, state["resolved"])
        state["passages"] = self.retriever.search(state["resolved"], query_vector=state["query_vector"])
        return state

    def _compose(self, state: dict) -> dict:
        """A reviewed library answer when one matches, else the extractive composer's."""
        screen, passages = state["screen"], state["passages"]
        answerable = screen.kind in ("ok", "personal_advice", "out_of_scope_candidate")
        if screen.rule == "individual_dose":  # any study figure could be read as a dose
            answerable = False
        draft, history = Draft(""), state["history"]
        # what is asked for is not in the sources (a price, pregnancy, a city): say so, before any
        # reviewed entry or nearby passage could answer something else
        state["focus"] = self._absent_focus(state) if answerable else ""
        if answerable and not state["focus"]:
            draft = self._library_draft(state)
        close = bool(passages) and passages[0].dense >= self.settings.min_relevance
        relevant = close and self.retriever.coverage(state["resolved"]) > MIN_COVERAGE
        if draft.empty and answerable and close and not state.get("focus"):
            # no entry matched: the closest reviewed entry the evidence agrees with, shown under its own question,
            # before stitched sentences (words the corpus lacks, "my son keeps asking if he can be cured by 18",
            # do not stop it: the entry's question shows what is answered)
            draft = self._nearest_draft(state)
        if draft.empty and answerable and relevant and not state.get("focus"):
            draft = self.composer.compose(state["resolved"], screen.language, passages, state["query_vector"])
            if not draft.empty and safety.needs_balance(draft.text):
                draft = self.composer.balance(draft, screen.language)
            if repeats(draft.text, history):  # a follow-up gets a new answer or none, never the last one again
                draft = Draft("")
        # a patient's focus the sources lack (sport after a transplant) is in scope: no_answer, said so
        if screen.kind == "out_of_scope_candidate" and draft.empty and not relevant and not state["focus"]:
            state["screen"] = safety.Screen("out_of_scope", "low_relevance", language=screen.language)
        state["draft"] = draft
        return state

    def _library_draft(self, state: dict) -> Draft:
        """The reviewed answer for what the question asks; a follow-up asks only its own part."""
        from .compose.matcher import Lexicon

        question = safety.simplified(state["question"])  # answerable, so a string
        ask = focus(question, state["history"], Lexicon.load_default().mentions)
        vector = state["query_vector"] if ask == state["resolved"] else self.index.embeddings.embed_query(ask)
        draft = self.library.compose(ask, state["screen"].language, vector)
        return Draft("") if repeats(draft.text, state["history"]) else draft

    def _nearest_draft(self, state: dict) -> Draft:
        draft = self.library.nearest(state["resolved"], state["screen"].language, state["query_vector"],
                                     state["passages"])
        # shown under its question, so compared by its sentences: a follow-up never gets the last entry again
        return Draft("") if any(repeats(sentence, state["history"]) for sentence, _ in draft.sentences) else draft

    def _absent_focus(self, state: dict) -> str:
        from .compose.matcher import Lexicon

        lang = state["screen"].language
        return Lexicon.load_default().absent_focus(state["resolved"], lang, self.library.focus_evidence.get(lang, []))

    def _check(self, state: dict) -> dict:
        state["answer"] = finish(state, self.settings)
        return state


class LivePipeline:
    """The Pipeline a server uses: it follows the index generation in service.

    At most every `interval` seconds a request looks at the store's pointer (on a background
    thread, so no request waits); when a build has switched generations, Pipeline.reloaded()
    prepares a new Pipeline and it replaces the old one in one assignment. Requests already
    running finish on the old one, whose generation the builder keeps until the next build."""

    def __init__(self, pipeline: Pipeline, interval: float = 2.0, clock=time.monotonic):
        self.pipeline, self.settings = pipeline, pipeline.settings
        self._interval, self._clock = interval, clock
        self._checked, self._loading = clock(), False
        self._lock = threading.Lock()

    def ask(self, question: str, history=None, id: str | None = None) -> Answer:
        self.follow()
        return self.pipeline.ask(question, history=history, id=id)

    def follow(self, wait: bool = False) -> None:
        """Start a check for a new generation unless one ran in the last `interval` seconds."""
        with self._lock:
            now = self._clock()
            if self._loading or now - self._checked < self._interval:
                return
            self._loading, self._checked = True, now
        worker = threading.Thread(target=self._reload, name="t1d-qa-reload", daemon=True)
        worker.start()
        if wait:
            worker.join()

    def _reload(self) -> None:
        try:
            fresh = self.pipeline.reloaded()
            if fresh is not None:
                old, self.pipeline = self.pipeline, fresh
                log.warning("now serving index generation %s (was %s)", fresh.index.generation, old.index.generation)
        except Exception:  # keep serving the generation we have; health reports the gap
            log.exception("could not load the index generation in service; still serving %s",
                          self.pipeline.index.generation)
        finally:
            with self._lock:
                self._loading = False

    def health(self) -> dict[str, Any]:
        """What this process serves, what the store serves, and whether the corpus on disk differs."""
        self.follow()
        report = self.pipeline.health()
        report["store_generation"] = self.pipeline.index.in_service()
        on_disk = corpus_on_disk(self.settings)
        report["corpus_changed"] = None if on_disk is None else on_disk != report["corpus_fingerprint"]
        return report


_corpus_cache: dict[tuple, str | None] = {}


def corpus_on_disk(settings: Settings) -> str | None:
    """The fingerprint of the corpus folder as it is now (None if it cannot be read); cached by
    the files' names, sizes and modification times."""
    folder = Path(settings.corpus_dir)
    try:
        key = (str(folder), *sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*.md")))
    except OSError:
        return None
    if key not in _corpus_cache:
        try:
            _corpus_cache.clear()
            _corpus_cache[key] = corpus_fingerprint(chunk_corpus(load_corpus(folder)))
        except Exception:  # a broken corpus: `t1d-qa index` names the file
            _corpus_cache[key] = None
    return _corpus_cache[key]


def _under_its_question(draft: Draft) -> str:
    """General evidence after a refusal answers the library's question, not the patient's: shown under
    that question, so its "Yes:" or "No:" ("Yes: everyone in the trial takes anti-rejection drugs") cannot
    read as a yes to "can she lower her tacrolimus?"."""
    if draft.source != "library" or len(draft.entries) != 1 or draft.nearest:
        return draft.text  # several entries are already shown each under its question
    return f"{draft.entries[0].question}\n{draft.text}"


def finish(state: dict, settings: Settings) -> Answer:
    """The reply for the screened and composed state, with the safety text added by code."""
    screen: safety.Screen = state["screen"]
    draft: Draft = state.get("draft") or Draft("")
    lang = screen.language
    kind, parts, citations = screen.kind, [], []
    if kind == "invalid":
        parts.append(screen.message)
    elif kind == "emergency":
        parts.append(replies.emergency(screen.rule, screen.places, lang, settings.emergency_number,
                                       settings.crisis_line))
    elif kind == "out_of_scope":
        parts.append(replies.text("out_of_scope", lang))
    elif kind == "personal_advice":
        parts.append(replies.text(f"personal_advice_{screen.team or 'diabetes'}", lang))
        if not draft.empty:
            parts += [replies.text("personal_advice_evidence", lang), _under_its_question(draft)]
            citations = draft.citations
    elif draft.empty:
        kind = "no_answer"
        focus = state.get("focus")
        parts.append(replies.text("focus_absent", lang, focus=focus) if focus else replies.text("no_answer", lang))
    else:  # a reviewed entry that says the sources lack what is asked is an honest no_answer
        kind = "no_answer" if draft.entries and all(e.focus_absent for e in draft.entries) else "answer"
        citations = draft.citations
        parts.append(draft.text)
    if kind == "answer" and draft.general:
        parts.insert(0, replies.text("library_general", lang))
    if kind == "answer" and draft.nearest:
        parts.insert(0, replies.text("library_nearest", lang))
        if draft.suggestions:
            parts.append(replies.text("library_suggestions", lang) + "\n" + "\n".join(f"- {q}" for q in draft.suggestions))
    topic = screen.topic or answer_topic(draft)
    if kind in ("answer", "no_answer") and topic:  # personal_advice already says it
        parts.append(replies.text(f"{topic}_warning", lang))
    if kind in ("no_answer", "out_of_scope", "personal_advice") and settings.clinic_contact:
        parts.append(replies.text("contact", lang, contact=settings.clinic_contact))
    text = "\n\n".join(p for p in parts if p)
    problems = safety.violations(text)
    if problems:  # last line of defence: never send it; keep the fixed safety texts
        log.error("blocked a %s reply (%s); the question is not logged", kind, ", ".join(problems))
        if kind not in ("emergency", "personal_advice"):
            kind = "no_answer"
            parts = [replies.text("no_answer", lang)] + ([replies.text(f"{topic}_warning", lang)] if topic else [])
        else:
            parts = parts[:1]  # the fixed emergency or refusal text
        citations, text = [], "\n\n".join(parts)
    return Answer(
        id=state.get("id"),
        question=state["question"] if isinstance(state["question"], str) else "",
        resolved_question=state.get("resolved") or "",
        language=lang,
        kind=kind,
        answer=text,
        citations=list(citations),
        disclaimer=settings.disclaimer(lang),
        ai_label=replies.AI_LABEL[lang],
        passages=[p.chunk_id for p in state.get("passages", [])],
        source=draft.source if citations else None,
        entries=[{"id": e.id, "reviewed": e.reviewed} for e in draft.entries] if citations else [],
        suggestions=list(draft.suggestions) if citations and kind == "answer" else [],
    )


def answer_topic(draft: Draft) -> str:
    """The warning an answer needs by what it is about: its lead sentence, or a library entry's aspect.

    A results answer that mentions people off insulin is not about changing insulin; one that
    leads with stopping insulin, or a reviewed entry about stopping insulin, is.
    """
    if draft.empty:
        return ""
    lead = draft.sentences[0][0] if draft.sentences else draft.text
    topic = safety.change_topic(safety.normalize(lead))
    if any(e.aspect == "stop_insulin" for e in draft.entries) and not topic.startswith("insulin"):
        topic = "insulin_and_immunosuppressant" if topic == "immunosuppressant" else "insulin"
    return topic


def check_settings(settings: Settings) -> None:
    """The clinic's own texts go into every reply: they must pass the same claim check."""
    for name in ("clinic_contact", "disclaimer_zh", "disclaimer_en", "emergency_number"):
        problems = safety.violations(getattr(settings, name))
        if problems:
            raise ConfigError(f"T1D_QA_{name.upper()} contains a {problems[0]}; replies may not carry it")


def error_answer(question: str, settings: Settings, language: str = "en", id: str | None = None) -> Answer:
    """The reply when something inside failed: still with disclaimer and label."""
    return Answer(
        id=id, question=question, language=language, kind="no_answer",
        answer=replies.text("error", language, number=settings.emergency_number),
        disclaimer=settings.disclaimer(language), ai_label=replies.AI_LABEL[language],
    )


def _with_latency(answer: Answer, started: float) -> Answer:
    return replace(answer, latency_ms=int((time.perf_counter() - started) * 1000))
