"""Which reviewed entry a question asks for: what it is about (entities) and what it asks (aspect).

The packaged model's similarity sees the topic, not the aspect (../shared/research/
intent-matching.md), so a question is factored: its entities come from a lexicon
(data/lexicon.yaml), its aspect from a logistic regression over character n-grams of the
question with the entity names masked, the lexicon's aspect cues and the question's embedding,
trained on the library's paraphrases. The entry is then looked up by (entities, aspect). A
description that fits several studies ("the Chinese study") is read each way and the entry
classifier picks; a long message is read by its asking clauses, each about the studies it names
or else the nearest ones named before it. A match whose score does not lead its best rival's by
MIN_CONFIDENCE is no match (a near tie is not guessed), and the extractive composer answers.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from ..library import ASPECTS, ENTITIES, Entry, Library

# Below this confidence (the best entry's score minus its best rival's; Matcher._choose) the
# question is not matched and the extractive composer answers. Chosen with benchmarks/intent.py
# (README, "Answers"): the lowest threshold whose held-out precision is >= 0.98 (issue 10's gate),
# so recall is as high as that allows: 0.55 gives precision 0.984 at recall 0.541; 0.5 gives 0.9797
# (224 entries, trained with the asked questions, 2026-11-30).
MIN_CONFIDENCE = 0.55
# Weights of the feature blocks against the n-gram block (rows are L2-normalised, so 1.0 is a
# block as strong as the n-grams).
EMBEDDING_WEIGHT = 1.0
CUE_WEIGHT = 1.0
FEATURES_VERSION = "2"  # part of the cached model's key: bump when AspectModel._features changes
MAX_NGRAMS = 4000  # the most frequent character n-grams; more only slows training
HOLDOUT_SHARE = 4  # one in four paraphrases of each entry (at least one) is held out by holdout()
MAX_ENTRIES = 2
# How much of the best rival's score is taken off a match's score to give its confidence: 1.0
# makes the confidence the margin over the runner-up, so a near tie between two entries (or two
# aspects) abstains and the extractive composer answers instead of a guess.
RIVAL_WEIGHT = 1.0
# A clause's aspect and entry probabilities: this share from the clause alone, the rest from the
# whole message (its earlier sentences often say what "that" or "it" is).
CLAUSE_WEIGHT = 0.5
# Measured with benchmarks/intent.py: answering a named study's question from the general entry
# of its aspect when the study has none added wrong matches and no right ones; off.
GENERAL_FALLBACK = False
# When match() abstains, the reply shows the entry the question comes closest to, under its own question, and
# the next ones as questions to ask instead (Matcher.nearest); below NEAREST_FLOOR the question is too far from
# every entry and the extractive composer answers. Measured by benchmarks/intent.py (--nearest).
NEAREST_COUNT = 3
NEAREST_FLOOR = 0.35
# The retrieved evidence must agree (LibraryComposer.nearest): the entry cites the section of one of the top
# NEAREST_PASSAGES passages, or its cited sections hold a sentence within NEAREST_EVIDENCE_GAP of their best one,
# or the classifier is all but sure (NEAREST_SURE)
NEAREST_PASSAGES = 5
NEAREST_EVIDENCE_GAP = 0.02
NEAREST_SURE = 0.8
# Measured with benchmarks/intent.py and `t1d-qa eval` (2026-11-30): renormalising the aspect
# probabilities over the aspects the library has entries for, for the question's entities, raised
# held-out recall (0.51 -> 0.57) but lowered precision (0.89 -> 0.88) and forced questions whose
# aspect a study has no entry for ("time in range in the CiPSC study") onto another entry; not used.
_LATIN = re.compile(r"[a-z]")
_CLAUSE_END = re.compile(r"(?<=[。！？；?!;])\s*|(?<=[.])\s+|\n+")
_PIECE_END = re.compile(r"(?<=[。！？；?!;，,：:])\s*|(?<=[.])\s+|\n+")


class LexiconError(ValueError):
    """data/lexicon.yaml names an unknown entity or aspect."""


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def normalize(text: str) -> str:
    """NFKC, lower case, simplified Chinese, single spaces: the form cues and the classifier see."""
    text = _t2s().convert(unicodedata.normalize("NFKC", text)).lower()
    return re.sub(r"\s+", " ", text).strip()


def _cue_pattern(cue: str) -> str:
    cue = normalize(cue)
    prefix = cue.endswith("*")
    body = r"[\s\-]?".join(re.escape(part) for part in re.split(r"[\s\-]+", cue.rstrip("*")))
    if not _LATIN.match(cue):
        return body
    return rf"(?<![a-z0-9]){body}" + (r"" if prefix else r"(?:s|es|d|ed|ing)?(?![a-z0-9])")


@dataclass(frozen=True)
class Focus:
    """Something a question may ask for that the sources may not give (lexicon.yaml, `foci`)."""

    label: dict[str, str]  # {"en", "zh"}: what the reply says the sources do not give
    cues: re.Pattern
    when: tuple[str, ...] = ()  # aspects the question must also ask (a city named as context is no focus)


@dataclass(frozen=True)
class Lexicon:
    entities: dict[str, re.Pattern]
    aspects: dict[str, re.Pattern]
    names: dict[str, tuple[str, ...]]  # single Latin words of 6+ letters per entity, for typos
    foci: tuple[Focus, ...] = ()
    # descriptions that fit more than one study ("the Chinese study"): (cues, the studies it may be)
    ambiguous: tuple[tuple[re.Pattern, frozenset[str]], ...] = ()

    @classmethod
    def load(cls, path: Path | None = None) -> Lexicon:
        if path is None:
            text = resources.files("t1d_qa").joinpath("data/lexicon.yaml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        unknown = sorted(set(data["entities"]) - set(ENTITIES)) + sorted(set(data["aspects"]) - set(ASPECTS))
        unknown += sorted({a for f in data.get("foci") or () for a in f.get("when") or ()} - set(ASPECTS))
        unknown += sorted({e for a in data.get("ambiguous") or () for e in a["one_of"]} - set(ENTITIES))
        if unknown:
            raise LexiconError(f"lexicon names {unknown}, which are not in the closed lists of library.py")
        return cls(
            entities={k: _compile(v) for k, v in data["entities"].items()},
            aspects={k: _compile(v) for k, v in data["aspects"].items() if v},
            names={k: tuple(normalize(c) for c in v if re.fullmatch(r"[a-z]{6,}", normalize(c)))
                   for k, v in data["entities"].items()},
            foci=tuple(Focus({"en": f["en"], "zh": f["zh"]}, _compile(f["cues"]), tuple(f.get("when") or ()))
                       for f in data.get("foci") or ()),
            ambiguous=tuple((_compile(a["cues"]), frozenset(a["one_of"])) for a in data.get("ambiguous") or ()),
        )

    @classmethod
    @lru_cache(maxsize=1)
    def load_default(cls) -> Lexicon:
        """The packaged lexicon, read once."""
        return cls.load()

    def entities_in(self, norm: str) -> set[str]:
        found = {name for name, pattern in self.entities.items() if pattern.search(norm)}
        for word in set(re.findall(r"[a-z]{6,}", norm)):
            found |= {name for name, words in self.names.items() if any(_near(word, w) for w in words)}
        return found

    def ambiguous_in(self, norm: str) -> list[frozenset[str]]:
        """The sets of studies a description fits ("the Chinese study": {cipsc, sichuan}), none of
        whose members the text names outright (a named study is not described again)."""
        named, rest = self.entities_in(norm), self.mask(norm)
        return [one_of for pattern, one_of in self.ambiguous if pattern.search(rest) and not one_of & named]

    def absent_focus(self, question: str, language: str, sentences: Iterable[str] | FocusEvidence) -> str:
        """The label of what the question asks for when the sources give none of it, else "".

        `sentences` are the corpus sentences of the question's language, normalize()d, or the
        FocusEvidence built from them once per index (so no question scans the corpus). A focus
        (a price, pregnancy, a city...) counts as given only by a sentence that has one of its
        cues AND shares something else with the question: a study it names, or another aspect it
        asks. "Pregnancy can skew HbA1c" gives nothing about pregnancy after a transplant; "the
        site letter says VX-880 participants pay nothing" does give what a VX-880 trial costs.
        """
        evidence = sentences if isinstance(sentences, FocusEvidence) else FocusEvidence(self, sentences)
        norm, absent = normalize(question), []
        for i, focus in enumerate(self.foci):
            if not focus.cues.search(norm):
                continue
            rest = focus.cues.sub(" 〇 ", norm)
            asked = self._about(rest)
            if focus.when and not asked & {f"aspect:{a}" for a in focus.when}:
                continue  # named, but not asked for
            asked -= {f"aspect:{a}" for a in focus.when}
            if any(asked & about for about in evidence.about(i)):
                return ""  # one thing it asks for is given: answer that
            absent.append(focus.label[language])
        return absent[0] if absent else ""

    def _about(self, norm: str) -> set[str]:
        """The entities a normalised text names and the aspects it has cues for."""
        found = {f"entity:{e}" for e in self.entities_in(norm)}
        return found | {f"aspect:{a}" for a, p in self.aspects.items() if p.search(norm)}

    def mentions(self, text: str) -> list[str]:
        """The entity names as written in the text (normalised), in order."""
        norm = normalize(text)
        found = [(m.start(), m.group(0)) for p in self.entities.values() for m in p.finditer(norm)]
        return [word for _, word in sorted(found)]

    def mask(self, norm: str) -> str:
        """The question with entity names replaced by one placeholder: the aspect is in what is left."""
        for pattern in self.entities.values():
            norm = pattern.sub(" 〇 ", norm)
        return re.sub(r"\s+", " ", norm).strip()

    def cues(self, norm: str) -> np.ndarray:
        """1.0 for each aspect (in ASPECTS order) with a cue in the text."""
        return np.array([1.0 if (p := self.aspects.get(a)) and p.search(norm) else 0.0 for a in ASPECTS])


class FocusEvidence:
    """What the corpus says about each focus: for a focus of the lexicon, the distinct sets of
    entities and aspects (Lexicon._about) of the sentences that have one of its cues.

    Held with the index generation (compose.reviewed.LibraryComposer fills it when it loads; a
    list of sentences given to absent_focus is read only for the foci asked); absent_focus then
    looks at a handful of sets instead of every sentence of the corpus, whose repeats cost nothing."""

    def __init__(self, lexicon: Lexicon, sentences: Iterable[str]):
        self._lexicon, self._sentences = lexicon, list(dict.fromkeys(sentences))
        self._about: dict[int, tuple[frozenset[str], ...]] = {}

    def about(self, i: int) -> tuple[frozenset[str], ...]:
        """The sets for the lexicon's i-th focus (computed once; a repeat by another thread is harmless)."""
        if i not in self._about:
            focus, about = self._lexicon.foci[i], self._lexicon._about
            self._about[i] = _maximal({frozenset(about(focus.cues.sub(" 〇 ", s)))
                                       for s in self._sentences if focus.cues.search(s)})
        return self._about[i]

    def fill(self) -> None:
        for i in range(len(self._lexicon.foci)):
            self.about(i)


def _maximal(sets: set[frozenset[str]]) -> tuple[frozenset[str], ...]:
    """The non-empty sets that no other set contains: a question shares something with one of
    these exactly when it shares something with one of all."""
    return tuple(a for a in sets if a and not any(a < b for b in sets))


def _compile(cues: Iterable[str]) -> re.Pattern:
    return re.compile("|".join(sorted((_cue_pattern(c) for c in cues), key=len, reverse=True)))


def _near(word: str, name: str) -> bool:
    """One typo for names of 6-8 letters, two from 9 (edit distance; two swapped letters, "sichaun",
    count as one typo)."""
    limit = 1 if len(name) < 9 else 2
    if abs(len(word) - len(name)) > limit:
        return False
    before, previous = None, list(range(len(name) + 1))
    for i, a in enumerate(word, 1):
        current = [i]
        for j, b in enumerate(name, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
            if before is not None and j > 1 and a == name[j - 2] and word[i - 2] == b:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        if min(current) > limit:
            return False
        before, previous = previous, current
    return previous[-1] <= limit


class AspectModel:
    """Logistic regression over [n-grams of the masked question, aspect cues, embedding].

    Trained twice: on aspects (which part of a study is asked about) and on entry ids (which
    of the entries that share entities and aspect, e.g. approval in China / the US / the EU).
    """

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon

    def _features(self, norms: list[str], vectors: np.ndarray):
        from scipy.sparse import csr_matrix, hstack

        grams = self.vectorizer.transform([self.lexicon.mask(n) for n in norms])
        # cues of the text without study names: "deceased donor" names donor islets, not a death
        cues = np.stack([self.lexicon.cues(self.lexicon.mask(n)) for n in norms])
        cues = cues / np.maximum(np.linalg.norm(cues, axis=1, keepdims=True), 1.0)
        return hstack([grams, csr_matrix(cues * CUE_WEIGHT), csr_matrix(vectors * EMBEDDING_WEIGHT)]).tocsr()

    def fit(self, texts: list[str], vectors: np.ndarray, labels: list[str]) -> AspectModel:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        norms = [normalize(t) for t in texts]
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True,
                                          max_features=MAX_NGRAMS)
        self.vectorizer.fit([self.lexicon.mask(n) for n in norms])
        self.classifier = LogisticRegression(C=10.0, max_iter=3000, tol=1e-3)
        self.classifier.fit(self._features(norms, vectors), labels)
        return self

    def probabilities(self, text: str, vector) -> dict[str, float]:
        x = self._features([normalize(text)], np.asarray(vector, np.float32).reshape(1, -1))
        return dict(zip(self.classifier.classes_, self.classifier.predict_proba(x)[0]))


@dataclass(frozen=True)
class Match:
    """A library entry chosen for (part of) a question."""

    entry: Entry
    aspect: str
    confidence: float
    clause: str
    how: str = "matched"  # "matched" | "general" (the general entry for an aspect of a named study)


def holdout(entry: Entry) -> tuple[list[str], list[str]]:
    """(training, held-out) paraphrases: a fixed quarter of each entry, by hash, never by chance."""
    ranked = sorted(entry.paraphrases, key=lambda p: hashlib.sha1(f"{entry.id}\n{p}".encode()).hexdigest())
    n = max(1, len(ranked) // HOLDOUT_SHARE)
    return ranked[n:], ranked[:n]


def training_texts(library: Library, held_out: bool) -> list[tuple[str, Entry]]:
    """(text, entry) for training: questions, paraphrases (without the held-out ones if asked) and the
    patients' questions of corpus/answers/asked/ that an entry answers."""
    out, kept_out = [], set()
    for entry in library.entries:
        paraphrases = holdout(entry)[0] if held_out else list(entry.paraphrases)
        out += [(entry.question, entry)] + [(p, entry) for p in paraphrases]
        kept_out |= {normalize(p) for p in holdout(entry)[1]} if held_out else set()
    for question in library.asked:
        entry = library.get(question.entry_id, question.lang)
        # an asked question worded as a held-out paraphrase ("lantidra side effects") would leak it into training
        if entry is not None and normalize(question.text) not in kept_out:
            out.append((question.text, entry))
    return out


class Matcher:
    """Entities by lexicon, aspect by classifier, entry by lookup."""

    def __init__(self, library: Library, lexicon: Lexicon, model: AspectModel, entry_model: AspectModel,
                 min_confidence: float = MIN_CONFIDENCE):
        self.library, self.lexicon, self.model, self.entry_model = library, lexicon, model, entry_model
        self.min_confidence = min_confidence
        # A named study's question with no entry for its aspect gets the general entry for that
        # aspect (and the reply says so). Off: such questions go to the extractive composer.
        self.general_fallback = GENERAL_FALLBACK

    @classmethod
    def load_or_train(cls, library: Library, encode: Callable[[list[str]], np.ndarray], folder: Path) -> Matcher:
        """The matcher trained on this library, from folder if it was trained before (keyed by content)."""
        import pickle

        texts = [t for t, _ in training_texts(library, held_out=False)]
        key = hashlib.sha256("\n".join(texts + [FEATURES_VERSION] + [e.id + e.aspect + ",".join(e.entities) for e in library.entries]
                                        + [resources.files("t1d_qa").joinpath("data/lexicon.yaml").read_text("utf-8")]
                                        ).encode()).hexdigest()[:16]
        path = Path(folder) / f"matcher-{key}.pkl"
        if path.exists():
            with open(path, "rb") as f:
                model, entry_model = pickle.load(f)
            return cls(library, model.lexicon, model, entry_model)
        matcher = cls.train(library, encode)
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("matcher-*.pkl"):
            old.unlink()
        with open(path, "wb") as f:
            pickle.dump((matcher.model, matcher.entry_model), f)
        return matcher

    @classmethod
    def train(cls, library: Library, vectors_of: Callable[[list[str]], np.ndarray],
              lexicon: Lexicon | None = None, held_out: bool = False) -> Matcher:
        """Train on the library; vectors_of(texts) gives the question embeddings (cached by the caller)."""
        lexicon = lexicon or Lexicon.load()
        rows = training_texts(library, held_out)
        texts = [t for t, _ in rows]
        vectors = vectors_of(texts)
        model = AspectModel(lexicon).fit(texts, vectors, [e.aspect for _, e in rows])
        entry_model = AspectModel(lexicon).fit(texts, vectors, [e.id for _, e in rows])
        return cls(library, lexicon, model, entry_model)

    def match(self, question: str, language: str, vector, embed: Callable[[str], list[float]] | None = None
              ) -> list[Match]:
        """Entries for the question (up to MAX_ENTRIES, one per question it holds), best first.

        A message of several sentences is read by its asking clauses (the sentences that ask;
        else its last): each clause's aspect weighs the clause and the message around it (without
        the message's other questions) equally, and its studies are those the clause names, else those of the nearest phrase before it that
        names one ("I read people died in the Vertex trial, and I worry about the Chinese study.
        Did that happen there?" is about the Chinese study). embed(clause) gives a clause's vector.
        """
        whole = self._scores(question, vector)
        clauses = _asking_clauses(question) if embed is not None else []
        if clauses in ([], [question.strip()]):
            return self._choose(whole, self._about(question), language, question)
        by_clause = []
        for clause in clauses:
            # the message around the clause, without the message's other questions
            context = " ".join(p for p in _CLAUSE_END.split(question) if p.strip() and p.strip() not in clauses
                               or p.strip() == clause).strip()
            own = self._scores(clause, embed(clause))
            around = whole if len(clauses) == 1 else self._scores(context, embed(context))
            scores = own if context == clause else _mean(around, own)
            by_clause.append(self._choose(scores, self._about(question, clause), language, clause))
        answered = [m for m in by_clause if m]
        if len(answered) >= 2:  # two questions in one message: one entry each
            return _distinct([group[0] for group in answered])
        return answered[0] if answered else []

    def nearest(self, question: str, language: str, vector, k: int = NEAREST_COUNT) -> list[Match]:
        """The k entries the question comes closest to when match() abstains, best first, each with its score
        (P(aspect) x its share of the entries for the studies named and that aspect) as confidence. A named
        study's aspect with no entry of its own takes the general entry. Shown under their own questions, so a
        patient sees which question is answered ("the closest question I have a checked answer for")."""
        probs, by_id = self._scores(question, vector)
        about, best = self._about(question), {}
        for aspect, p in probs.items():
            for bucket, how in self._alternatives(about.named, about.described, aspect, language, general=True):
                weights = [by_id.get(e.id, 0.0) for e in bucket]
                total = sum(weights)
                for e, w in zip(bucket, weights):
                    score = p * (w / total if total > 0 else 1.0 / len(bucket))
                    if score > best.get(e.id, (0.0,))[0]:
                        best[e.id] = (score, Match(e, aspect, score, question, how))
        ranked = sorted(best.values(), key=lambda sm: -sm[0])
        return [m for _, m in ranked[:k]]

    def _scores(self, text: str, vector) -> tuple[dict[str, float], dict[str, float]]:
        """(aspect probabilities, entry probabilities) of a text."""
        return self.model.probabilities(text, vector), self.entry_model.probabilities(text, vector)

    def _about(self, message: str, clause: str | None = None) -> About:
        """What a clause is about: the studies it names, else those of the nearest phrase before
        it that names one, else those of the whole message (also kept as `context`)."""
        context = self._named(normalize(message))
        if clause is None:
            return context
        own = self._named(normalize(clause))
        if own.named or own.described:
            return About(own.named, own.described, context)
        before = [self._named(normalize(p)) for p in _pieces(message[:max(message.find(clause), 0)])]
        nearest = next((a for a in reversed(before) if a.named or a.described), context)
        return About(nearest.named, nearest.described, context)

    def _named(self, norm: str) -> About:
        return About(frozenset(self.lexicon.entities_in(norm)), tuple(self.lexicon.ambiguous_in(norm)))

    def _choose(self, scores, about: About, language: str, text: str) -> list[Match]:
        """The best entry (or one per study when no entry covers all the studies named) whose score
        leads every rival's by MIN_CONFIDENCE; a near tie abstains.

        An entry's score is P(aspect) x its share of the entries for those studies and that aspect
        (by the entry classifier); its rivals are the other candidates, except the entries of the
        same aspect for another named study (those are answered too)."""
        probs, by_id = scores
        candidates = []  # (score, entry, aspect, how, bucket number)
        for aspect, p in probs.items():
            named = about.named
            if aspect == "comparison" and len(named | {x for d in about.described for x in d}) < 2 and about.context:
                named = named | about.context.named  # a comparison's other side may be in the context
            for n, (bucket, how) in enumerate(self._alternatives(named, about.described, aspect, language)):
                weights = [by_id.get(e.id, 0.0) for e in bucket]
                total = sum(weights)
                for e, w in zip(bucket, weights):
                    candidates.append((p * (w / total if total > 0 else 1.0 / len(bucket)), e, aspect, how, n))
        if not candidates:
            return []
        candidates.sort(key=lambda c: -c[0])
        aspect, out = candidates[0][2], []
        for n in dict.fromkeys(c[4] for c in candidates if c[2] == aspect):
            top = next(c for c in candidates if c[2] == aspect and c[4] == n)
            rival = max((c[0] for c in candidates if c is not top and (c[2] != aspect or c[4] == n)), default=0.0)
            confidence = top[0] - RIVAL_WEIGHT * rival
            if confidence >= self.min_confidence:
                out.append(Match(top[1], aspect, confidence, text, top[3]))
        return out[:MAX_ENTRIES]

    def _alternatives(self, named: frozenset[str], described: tuple[frozenset[str], ...], aspect: str,
                      language: str, general: bool | None = None) -> list[tuple[list[Entry], str]]:
        """The buckets for the named studies and, for a description that fits several studies,
        one bucket holding the entries of each reading (the entry classifier then picks)."""
        if not described:
            return self._buckets(named, aspect, language, general)
        entries = {}
        for one_of in described:
            for study in sorted(one_of):
                for bucket, how in self._buckets(named | {study}, aspect, language, general):
                    if how == "matched":
                        entries.update((e.id, e) for e in bucket)
        return [(list(entries.values()), "matched")] if entries else []

    def _buckets(self, about: set[str], aspect: str, language: str, general: bool | None = None
                 ) -> list[tuple[list[Entry], str]]:
        """The entries for these entities and this aspect; per entity when none covers them all; else the general
        entries for the aspect when `general` (default: GENERAL_FALLBACK)."""
        general = self.general_fallback if general is None else general
        entities = frozenset(about) or frozenset({"general"})
        same = [e for e in self.library.in_language(language) if e.aspect == aspect]
        exact = [e for e in same if set(e.entities) == entities]
        if exact:
            return [(exact, "matched")]
        wider = [e for e in same if entities <= set(e.entities)]
        if wider:
            fewest = min(len(e.entities) for e in wider)
            return [([e for e in wider if len(e.entities) == fewest], "matched")]
        if len(entities) > 1:
            return [b for name in sorted(entities) for b in self._buckets({name}, aspect, language, general)][:MAX_ENTRIES]
        fallback = [e for e in same if set(e.entities) == {"general"}]
        return [(fallback, "general")] if fallback and general else []


@dataclass(frozen=True)
class About:
    """What (part of) a message is about: studies named, descriptions that fit several, the context."""

    named: frozenset[str]
    described: tuple[frozenset[str], ...] = ()
    context: About | None = None


def _mean(whole, clause):
    """(aspect probabilities, entry probabilities) of a clause in its message: CLAUSE_WEIGHT of
    the clause's own, the rest the whole message's."""
    return tuple({k: (1 - CLAUSE_WEIGHT) * x[k] + CLAUSE_WEIGHT * y.get(k, 0.0) for k in x}
                 for x, y in zip(whole, clause))


def _pieces(text: str) -> list[str]:
    """A message cut into sentences and, inside them, at commas: where the studies are named."""
    return [p.strip() for p in _PIECE_END.split(text) if p and p.strip()]


def _asking_clauses(text: str) -> list[str]:
    """The sentences of a message that ask something, at most three, last ones first; else its last.

    A message that ends without a full stop ends with a question too, even with no question mark:
    "Lantidra got approved right? so is that a stem cell treatment or something else".
    """
    parts = [p.strip() for p in _CLAUSE_END.split(text) if p and p.strip()]
    asking = [p for p in parts if re.search(r"[?？]|[吗呢么]$", p)]
    if asking and parts[-1] not in asking and not re.search(r"[.。!！…]$", parts[-1]):
        asking.append(parts[-1])
    return asking[-3:] or parts[-1:]


def _distinct(matches: list[Match]) -> list[Match]:
    seen, out = set(), []
    for m in sorted(matches, key=lambda m: -m.confidence):
        if m.entry.id not in seen:
            seen.add(m.entry.id)
            out.append(m)
    return out[:MAX_ENTRIES]



def holdout_scores(library: Library, encode: Callable[[list[str]], np.ndarray],
                   thresholds: Iterable[float] = (MIN_CONFIDENCE,)) -> dict[float, dict[str, float]]:
    """Precision and recall on the held-out paraphrases of a matcher trained without them.

    precision: the first entry matched is the paraphrase's own entry, among those matched;
    recall: the same, among all held-out paraphrases. Per threshold of MIN_CONFIDENCE.
    """
    out = {}
    for threshold, got in _held_out_matches(library, encode, thresholds).items():
        answered = [(m, e) for _, e, m in got if m]
        right = sum(1 for m, e in answered if m[0].entry.id == e.id)
        out[threshold] = {
            "held_out": len(got),
            "answered": len(answered),
            "correct": right,
            "precision": right / len(answered) if answered else 1.0,
            "recall": right / len(got) if got else 0.0,
        }
    return out


def confusions(library: Library, encode: Callable[[list[str]], np.ndarray],
               threshold: float = MIN_CONFIDENCE) -> list[tuple[str, str, str, float]]:
    """(paraphrase, its entry, the entry matched, confidence) for each wrong held-out match."""
    got = _held_out_matches(library, encode, (threshold,))[threshold]
    return [(p, e.id, m[0].entry.id, round(m[0].confidence, 2)) for p, e, m in got if m and m[0].entry.id != e.id]


def _held_out_matches(library: Library, encode: Callable[[list[str]], np.ndarray], thresholds: Iterable[float]
                      ) -> dict[float, list[tuple[str, Entry, list[Match]]]]:
    """Per threshold, (paraphrase, its entry, matches) for each held-out paraphrase, matched as
    the answer chain matches a question (clauses embedded too)."""
    base = Matcher.train(library, encode, held_out=True)
    cases = [(p, e) for e in library.entries for p in holdout(e)[1]]
    vectors = encode([p for p, _ in cases])
    cache = {p: v for (p, _), v in zip(cases, vectors)}

    def embed(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = encode([text])[0]
        return cache[text]

    out = {}
    for threshold in thresholds:
        matcher = Matcher(library, base.lexicon, base.model, base.entry_model, min_confidence=threshold)
        out[threshold] = [(p, e, matcher.match(p, e.lang, v, embed)) for (p, e), v in zip(cases, vectors)]
    return out


def _cached_embedding(texts: list[str], encode: Callable[[list[str]], np.ndarray]
                      ) -> tuple[np.ndarray, Callable[[str], np.ndarray]]:
    """The texts' vectors, and an embed(text) for their clauses that remembers what it encoded."""
    vectors = encode(texts)
    cache = dict(zip(texts, vectors))

    def embed(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = encode([text])[0]
        return cache[text]

    return vectors, embed


def asked_scores(matcher: Matcher, questions: Iterable, encode: Callable[[list[str]], np.ndarray]
                 ) -> dict[str, float]:
    """How the matcher does on labelled patients' questions it never trained on (library.Asked items).

    precision: the first entry matched is the question's own, among the answerable questions matched;
    recall: the same, among all answerable ones; false_matches: the share of the questions no entry
    answers ("none") that are matched to an entry anyway."""
    questions = list(questions)
    vectors, embed = _cached_embedding([q.text for q in questions], encode)
    got = [(q, matcher.match(q.text, q.lang, v, embed)) for q, v in zip(questions, vectors)]
    answerable = [(q, m) for q, m in got if q.entry_id != "none"]
    answered = [(q, m) for q, m in answerable if m]
    right = sum(1 for q, m in answered if m[0].entry.id == q.entry_id)
    none = [m for q, m in got if q.entry_id == "none"]
    return {"questions": len(answerable), "answered": len(answered), "correct": right,
            "precision": right / len(answered) if answered else 1.0,
            "recall": right / len(answerable) if answerable else 0.0,
            "none": len(none), "false_matches": sum(1 for m in none if m) / len(none) if none else 0.0}


def nearest_scores(matcher: Matcher, questions: Iterable, encode: Callable[[list[str]], np.ndarray],
                   floors: Iterable[float]) -> dict[float, dict[str, float]]:
    """What the nearest-entry reply shows for the labelled questions match() abstains on, per floor:
    shown (the closest entry's score is at least the floor), right (it is the question's own entry), offered
    (the own entry is the closest or one of the suggestions); none_shown: the share of the questions no entry
    answers that get a nearest entry anyway (shown under its own question, so never presented as their answer)."""
    questions = list(questions)
    vectors, embed = _cached_embedding([q.text for q in questions], encode)
    missed = [(q, matcher.nearest(q.text, q.lang, v)) for q, v in zip(questions, vectors)
              if not matcher.match(q.text, q.lang, v, embed)]
    out = {}
    for floor in floors:
        shown = [(q, n) for q, n in missed if n and n[0].confidence >= floor]
        own = [(q, n) for q, n in shown if q.entry_id != "none"]
        none = [q for q, _ in missed if q.entry_id == "none"]
        out[floor] = {"abstained": sum(1 for q, _ in missed if q.entry_id != "none"), "shown": len(own),
                      "right": sum(1 for q, n in own if n[0].entry.id == q.entry_id),
                      "offered": sum(1 for q, n in own if q.entry_id in {m.entry.id for m in n}),
                      "none_shown": sum(1 for q, _ in shown if q.entry_id == "none") / len(none) if none else 0.0}
    return out


def cached_encoder(embeddings, path: Path) -> Callable[[list[str]], np.ndarray]:
    """encode(texts) with question vectors kept in an .npz file next to the index.

    The library's paraphrases are embedded once (at `t1d-qa index` or the first start-up after
    the library changed), so training the matcher at start-up takes about a second.
    """
    path = Path(path)
    store: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            if str(data["model"]) == embeddings.name:
                store = dict(zip(data["texts"].tolist(), data["vectors"]))

    def encode(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in store]
        if missing:
            store.update(zip(missing, embeddings.encode(missing, query=True)))
            path.parent.mkdir(parents=True, exist_ok=True)
            keys = sorted(store)
            np.savez(path, model=np.array(embeddings.name), texts=np.array(keys),
                     vectors=np.stack([store[k] for k in keys]).astype(np.float32))
        return np.stack([store[t] for t in texts]) if texts else np.zeros((0, embeddings.dimension), np.float32)

    return encode
