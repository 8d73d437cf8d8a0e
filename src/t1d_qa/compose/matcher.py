"""Which reviewed entry a question asks for: what it is about (entities) and what it asks (aspect).

The packaged model's similarity sees the topic, not the aspect (../shared/research/
intent-matching.md), so a question is factored: its entities come from a lexicon
(data/lexicon.yaml), its aspect from a logistic regression over character n-grams of the
question with the entity names masked, the lexicon's aspect cues and the question's embedding,
trained on the library's paraphrases. The entry is then looked up by (entities, aspect); a
probability below MIN_CONFIDENCE is no match, and the extractive composer answers instead.
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

# Below this confidence (aspect probability x the entry's share of its bucket) the question is
# not matched and the extractive composer answers. Chosen with benchmarks/intent.py: on the
# held-out paraphrases, 0.6 gives precision 0.91 at recall 0.53 (README, "Answers").
MIN_CONFIDENCE = 0.6
# Weights of the feature blocks against the n-gram block (rows are L2-normalised, so 1.0 is a
# block as strong as the n-grams).
EMBEDDING_WEIGHT = 1.0
CUE_WEIGHT = 1.0
MAX_NGRAMS = 4000  # the most frequent character n-grams; more only slows training
HOLDOUT_SHARE = 4  # one in four paraphrases of each entry (at least one) is held out by holdout()
MAX_ENTRIES = 2
# Measured with benchmarks/intent.py: answering a named study's question from the general entry
# of its aspect when the study has none added wrong matches and no right ones; off.
GENERAL_FALLBACK = False
# Measured with benchmarks/intent.py and `t1d-qa eval` (2026-11-30): renormalising the aspect
# probabilities over the aspects the library has entries for, for the question's entities, raised
# held-out recall (0.51 -> 0.57) but lowered precision (0.89 -> 0.88) and forced questions whose
# aspect a study has no entry for ("time in range in the CiPSC study") onto another entry; not used.
_LATIN = re.compile(r"[a-z]")
_CLAUSE_END = re.compile(r"(?<=[。！？；?!;])\s*|(?<=[.])\s+|\n+")


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

    @classmethod
    def load(cls, path: Path | None = None) -> Lexicon:
        if path is None:
            text = resources.files("t1d_qa").joinpath("data/lexicon.yaml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        unknown = sorted(set(data["entities"]) - set(ENTITIES)) + sorted(set(data["aspects"]) - set(ASPECTS))
        unknown += sorted({a for f in data.get("foci") or () for a in f.get("when") or ()} - set(ASPECTS))
        if unknown:
            raise LexiconError(f"lexicon names {unknown}, which are not in the closed lists of library.py")
        return cls(
            entities={k: _compile(v) for k, v in data["entities"].items()},
            aspects={k: _compile(v) for k, v in data["aspects"].items() if v},
            names={k: tuple(normalize(c) for c in v if re.fullmatch(r"[a-z]{6,}", normalize(c)))
                   for k, v in data["entities"].items()},
            foci=tuple(Focus({"en": f["en"], "zh": f["zh"]}, _compile(f["cues"]), tuple(f.get("when") or ()))
                       for f in data.get("foci") or ()),
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
    """One typo for names of 6-8 letters, two from 9 (Levenshtein distance)."""
    limit = 1 if len(name) < 9 else 2
    if abs(len(word) - len(name)) > limit:
        return False
    previous = list(range(len(name) + 1))
    for i, a in enumerate(word, 1):
        current = [i]
        for j, b in enumerate(name, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        if min(current) > limit:
            return False
        previous = current
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
        cues = np.stack([self.lexicon.cues(n) for n in norms])
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
    """(text, entry) for training: questions and paraphrases, without the held-out ones if asked."""
    out = []
    for entry in library.entries:
        paraphrases = holdout(entry)[0] if held_out else list(entry.paraphrases)
        out += [(entry.question, entry)] + [(p, entry) for p in paraphrases]
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
        key = hashlib.sha256("\n".join(texts + [e.id + e.aspect + ",".join(e.entities) for e in library.entries]
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
        """Entries for the question (up to MAX_ENTRIES, one per question it holds), best first."""
        norm = normalize(question)
        about = self.lexicon.entities_in(norm)
        whole = self._match_clause(question, norm, about, language, vector)
        clauses = _question_clauses(question)
        if embed is None or not clauses or clauses == [question.strip()]:
            return whole
        by_clause = []
        for clause in clauses:
            c_norm = normalize(clause)
            own = self.lexicon.entities_in(c_norm) or about  # "Could he join?" is about the study named before
            by_clause.append(self._match_clause(clause, c_norm, own, language, embed(clause)))
        answered = [m for m in by_clause if m]
        if len(answered) >= 2:  # two questions in one message: one entry each
            return _distinct([group[0] for group in answered])
        best = max([whole] + answered, key=lambda ms: ms[0].confidence if ms else 0.0)
        return best

    def _match_clause(self, text: str, norm: str, about: set[str], language: str, vector) -> list[Match]:
        probs = self.model.probabilities(text, vector)
        aspect, p = max(probs.items(), key=lambda kv: kv[1])
        buckets = self._buckets(about, aspect, language)
        if not buckets:
            return []
        by_id = self.entry_model.probabilities(text, vector)
        out = []
        for bucket, how in buckets:
            weights = [by_id.get(e.id, 0.0) for e in bucket]
            best = int(np.argmax(weights))
            share = weights[best] / sum(weights) if sum(weights) > 0 else 1.0 / len(bucket)
            if p * share >= self.min_confidence:
                out.append(Match(bucket[best], aspect, p * share, text, how))
        return out

    def _buckets(self, about: set[str], aspect: str, language: str) -> list[tuple[list[Entry], str]]:
        """The entries for these entities and this aspect; per entity when none covers them all."""
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
            return [b for name in sorted(entities) for b in self._buckets({name}, aspect, language)][:MAX_ENTRIES]
        general = [e for e in same if set(e.entities) == {"general"}]
        return [(general, "general")] if general and self.general_fallback else []


def _question_clauses(text: str) -> list[str]:
    """The sentences of a message that ask something, at most three, last ones first."""
    parts = [p.strip() for p in _CLAUSE_END.split(text) if p and p.strip()]
    asking = [p for p in parts if re.search(r"[?？]|[吗呢么]$", p)]
    return asking[-3:]


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
        got = [(matcher.match(p, e.lang, v, embed), e) for (p, e), v in zip(cases, vectors)]
        answered = [(m, e) for m, e in got if m]
        right = sum(1 for m, e in answered if m[0].entry.id == e.id)
        out[threshold] = {
            "held_out": len(cases),
            "answered": len(answered),
            "correct": right,
            "precision": right / len(answered) if answered else 1.0,
            "recall": right / len(cases) if cases else 0.0,
        }
    return out


def confusions(library: Library, encode: Callable[[list[str]], np.ndarray]) -> list[tuple[str, str, str, float]]:
    """(paraphrase, its entry, the entry matched, confidence) for each wrong held-out match."""
    matcher = Matcher.train(library, encode, held_out=True)
    cases = [(p, e) for e in library.entries for p in holdout(e)[1]]
    out = []
    for (p, e), v in zip(cases, encode([p for p, _ in cases])):
        m = matcher.match(p, e.lang, v)
        if m and m[0].entry.id != e.id:
            out.append((p, e.id, m[0].entry.id, round(m[0].confidence, 2)))
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
