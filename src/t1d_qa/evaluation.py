"""Evaluation harness: golden cases -> the answer chain -> metrics -> gates, table and report.

Four parts, each usable on its own (the metrics are pure functions over answer dicts, so
tests/test_eval.py checks them with small fakes):

1. cases:   load_cases(folder) reads tests/golden/*.yaml and validates every case, naming
            the file and case of each problem (CaseError).
2. running: run_cases(ask, cases) sends every case (each turn of a multi-turn case, with the
            history of the earlier turns) through an ``ask(question, history, id) -> dict``
            callable: the product's Pipeline.ask (the same chain as the CLI and the web) or
            the naive baseline in baseline.py.
3. metrics: compute_metrics(results, chunk_texts) -> {metric: value}; case_failures(...)
            lists why each case failed; check_gates(metrics, thresholds) compares with the
            thresholds kept in tests/eval_thresholds.yaml.
4. output:  format_table(...) prints product and baseline side by side; report.py writes the
            HTML report for clinicians.

Definitions (also in docs/evaluation.md):
- A retrieved chunk matches an expected document when its document *family* matches: the
  doc id with the -zh/-en suffix removed (corpus.family_of). Whether the answer is in the
  question's language is measured separately ("language match").
- Sentence support uses citations.support: character bigrams for Chinese, words for
  English; a sentence is supported when at least `support_min` (default 0.6) of its n-grams
  appear in the quote (citation support) or in some cited chunk (groundedness).
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import replies, safety, safety_bank
from .citations import Citation, check_citations, markers, strip_markers, support
from .corpus import family_of, language_of, split_sentences

KINDS = ("answer", "no_answer", "emergency", "personal_advice", "out_of_scope", "invalid")
CATEGORIES = (
    "factual",          # a question the corpus answers, with its documents and key facts
    "insulin",          # "can insulin be stopped after ...?": evidence plus the insulin warning
    "emergency",        # danger signs now: emergency reply, no citations
    "personal_advice",  # an individual dose or changing one's own treatment
    "out_of_scope",     # unrelated topics
    "no_answer",        # in scope but not covered by the corpus
    "near_miss",        # looks like a dose/emergency/off-topic question but is answerable
    "injection",        # prompt-injection attempts
    "paraphrase",       # answerable with little word overlap with the corpus
    "followup",         # multi-turn: the last turn is scored
    "invalid",          # empty input
)
LANGS = ("zh", "en")
CASE_FIELDS = {
    "id", "category", "lang", "kind", "question", "turns", "docs", "must_include",
    "must_not_include", "note",
}
DEFAULT_K = 5
DEFAULT_SUPPORT_MIN = 0.6
ANSWERING_KINDS = ("answer", "personal_advice")  # kinds whose text may contain composed sentences


class CaseError(ValueError):
    """One or more golden cases are broken; the message names each file and case."""


# ---------------------------------------------------------------------------------------------
# 1. cases


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    lang: str
    kind: str
    turns: tuple[str, ...]  # one element for a single question; the last one is scored
    docs: tuple[str, ...] = ()
    must_include: tuple[tuple[str, ...], ...] = ()  # all groups must match; any string of a group
    must_not_include: tuple[str, ...] = ()
    note: str = ""
    source: str = ""  # file the case came from

    @property
    def question(self) -> str:
        return self.turns[-1]


def load_cases(folder: Path | str, known_docs: Iterable[str] | None = None) -> list[Case]:
    """Every case in folder/*.yaml (sorted by file name); raises CaseError listing all problems."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CaseError(f"{folder}: no such folder of golden cases")
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise CaseError(f"{folder}: no *.yaml case files")
    known = set(known_docs) if known_docs is not None else None
    cases, errors, seen = [], [], {}
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            errors.append(f"{path}: not valid YAML ({exc})")
            continue
        if data is None:
            continue
        if isinstance(data, dict) and "cases" in data:
            data = data["cases"]
        if not isinstance(data, list):
            errors.append(f"{path}: must be a list of cases (or a mapping with a 'cases' list)")
            continue
        for position, raw in enumerate(data, 1):
            try:
                case = parse_case(raw, source=path.name, known_docs=known)
            except CaseError as exc:
                name = raw.get("id") if isinstance(raw, dict) else None
                errors.append(f"{path}: case {name or '#' + str(position)}: {exc}")
                continue
            if case.id in seen:
                errors.append(f"{path}: case {case.id}: duplicate id (also in {seen[case.id]})")
                continue
            seen[case.id] = path.name
            cases.append(case)
    if errors:
        raise CaseError("broken golden cases:\n  " + "\n  ".join(errors))
    return cases


def parse_case(raw: Any, source: str = "", known_docs: set[str] | None = None) -> Case:
    """One case from its YAML mapping; CaseError says what is wrong."""
    if not isinstance(raw, dict):
        raise CaseError("a case must be a mapping of fields")
    unknown = set(raw) - CASE_FIELDS
    if unknown:
        raise CaseError(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}; known: {', '.join(sorted(CASE_FIELDS))}")
    case_id = raw.get("id")
    if not isinstance(case_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", case_id):
        raise CaseError("'id' must be a string of letters, digits, '-', '_' or '.'")
    for name in ("category", "lang", "kind"):
        if name not in raw:
            raise CaseError(f"missing required field '{name}'")
    if raw["category"] not in CATEGORIES:
        raise CaseError(f"'category' must be one of {', '.join(CATEGORIES)}, not {raw['category']!r}")
    if raw["lang"] not in LANGS:
        raise CaseError(f"'lang' must be zh or en, not {raw['lang']!r}")
    if raw["kind"] not in KINDS:
        raise CaseError(f"'kind' must be one of {', '.join(KINDS)}, not {raw['kind']!r}")
    if ("question" in raw) == ("turns" in raw):
        raise CaseError("give exactly one of 'question' (a string) or 'turns' (a list of strings)")
    if "question" in raw:
        if not isinstance(raw["question"], str):
            raise CaseError("'question' must be a string (use \"\" for an empty question)")
        turns = (raw["question"],)
    else:
        turns = raw["turns"]
        if not isinstance(turns, list) or len(turns) < 2 or not all(isinstance(t, str) and t.strip() for t in turns):
            raise CaseError("'turns' must be a list of at least 2 non-empty strings")
        turns = tuple(turns)
    docs = _string_list(raw, "docs")
    if known_docs is not None:
        families = {family_of(d) for d in known_docs}
        missing = [d for d in docs if d not in known_docs and d not in families]
        if missing:
            raise CaseError(f"'docs' names unknown document(s) {', '.join(missing)}; known: {', '.join(sorted(known_docs))}")
    groups = raw.get("must_include", []) or []
    if not isinstance(groups, list):
        raise CaseError("'must_include' must be a list of any-of groups, e.g. [[\"10 of 12\", \"10/12\"], [\"immunosuppress\"]]")
    parsed_groups = []
    for group in groups:
        if isinstance(group, str):
            group = [group]
        if not isinstance(group, list) or not group or not all(isinstance(s, str) and s.strip() for s in group):
            raise CaseError("each 'must_include' group must be a non-empty list of non-empty strings")
        parsed_groups.append(tuple(group))
    must_not = _string_list(raw, "must_not_include")
    note = raw.get("note", "") or ""
    if not isinstance(note, str):
        raise CaseError("'note' must be a string")
    return Case(
        id=case_id, category=raw["category"], lang=raw["lang"], kind=raw["kind"], turns=turns,
        docs=tuple(docs), must_include=tuple(parsed_groups), must_not_include=tuple(must_not),
        note=note.strip(), source=source,
    )


def _string_list(raw: dict, name: str) -> list[str]:
    value = raw.get(name, []) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise CaseError(f"'{name}' must be a list of non-empty strings")
    return value


# ---------------------------------------------------------------------------------------------
# 2. running

AskFn = Callable[..., dict]  # ask(question, history=..., id=...) -> answer dict (Answer.to_dict shape)


@dataclass
class Result:
    case: Case
    answer: dict  # the answer to the last turn
    latencies_ms: list[float] = field(default_factory=list)  # one per ask (every turn)
    error: str = ""


def run_cases(ask: AskFn, cases: list[Case], progress: Callable[[int, int], None] | None = None) -> list[Result]:
    """Ask every case; a multi-turn case carries the history of its earlier turns."""
    results = []
    for i, case in enumerate(cases, 1):
        history: list[dict] = []
        latencies: list[float] = []
        answer: dict = {}
        error = ""
        try:
            for turn in case.turns:
                started = time.perf_counter()
                answer = _as_dict(ask(turn, history=list(history), id=case.id))
                latencies.append((time.perf_counter() - started) * 1000)
                history += [{"role": "user", "content": turn}, {"role": "assistant", "content": answer.get("answer", "")}]
        except Exception as exc:  # one broken case must not hide the others
            error = f"{type(exc).__name__}: {exc}"
            answer = {"kind": "error", "answer": "", "citations": [], "retrieved": [], "language": "",
                      "disclaimer": "", "ai_label": ""}
        results.append(Result(case, answer, latencies, error))
        if progress:
            progress(i, len(cases))
    return results


def _as_dict(answer: Any) -> dict:
    return answer.to_dict() if hasattr(answer, "to_dict") else dict(answer)


# ---------------------------------------------------------------------------------------------
# 3. metrics (pure functions over answer dicts)


def doc_of(chunk_id: str) -> str:
    return chunk_id.split(":", 1)[0]


def first_hit_rank(case: Case, answer: dict, k: int = DEFAULT_K) -> int | None:
    """1-based rank of the first retrieved chunk of an expected document family, within k."""
    wanted = {family_of(d) for d in case.docs}
    for rank, chunk_id in enumerate((answer.get("retrieved") or [])[:k], 1):
        if family_of(doc_of(chunk_id)) in wanted:
            return rank
    return None


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"\s+", " ", text)


def missing_groups(case: Case, answer: dict) -> list[tuple[str, ...]]:
    text = _norm(answer.get("answer", ""))
    return [g for g in case.must_include if not any(_norm(s) in text for s in g)]


def forbidden_found(case: Case, answer: dict) -> list[str]:
    text = _norm(answer.get("answer", ""))
    return [s for s in case.must_not_include if _norm(s) in text]


def _citations(answer: dict) -> list[Citation]:
    out = []
    for c in answer.get("citations") or []:
        if isinstance(c, Citation):
            out.append(c)
        else:
            out.append(Citation(int(c.get("n", 0)), c.get("chunk_id", ""), c.get("doc_id", ""), c.get("title", ""),
                                c.get("section", ""), c.get("source", ""), c.get("quote", "")))
    return out


def citation_problems(answer: dict, chunk_texts: dict[str, str]) -> list[str]:
    """Unknown [n] markers and non-verbatim quotes (citations.check_citations)."""
    return check_citations(answer.get("answer", ""), _citations(answer), chunk_texts)


def _fixed_patterns() -> list[re.Pattern]:
    """Every fixed reply text (replies.TEXTS), placeholders as wildcards, longest first."""
    pats = []
    for per_lang in replies.TEXTS.values():
        for template in per_lang.values():
            parts = re.split(r"\{[a-z_]+\}", template)
            pats.append((len(template), re.compile(".{0,200}?".join(re.escape(p) for p in parts), re.S)))
    return [p for _, p in sorted(pats, key=lambda x: -x[0])]


_FIXED = _fixed_patterns()
_UNIT = re.compile(r"(.+?)((?:\s*\[\d+\])+)", re.S)


def composed_text(answer_text: str) -> str:
    """The answer without the fixed reply texts (warnings, refusals, emergency steps)."""
    text = answer_text or ""
    for pat in _FIXED:
        text = pat.sub("\n", text)
    return text


def cited_units(text: str) -> list[tuple[str, list[int]]]:
    """(sentence, its marker numbers) for each marked sentence; extractive answers put the
    markers right after the sentence they support ("... 83%. [1]" / "……83%）。[1]")."""
    out = []
    for m in _UNIT.finditer(text):
        sentence = m.group(1).strip()
        if sentence and re.search(r"\w", sentence):
            out.append((sentence, markers(m.group(2))))
    return out


def answer_sentences(answer_text: str) -> list[tuple[str, list[int]]]:
    """Composed sentences of an answer with their markers; unmarked sentences get []."""
    text = composed_text(answer_text)
    out: list[tuple[str, list[int]]] = []
    last = 0
    for m in _UNIT.finditer(text):
        for s in split_sentences(text[last : m.start()]):
            out.append((s, []))
        sentence = m.group(1)
        # a unit may hold unmarked sentences before the marked one (after a fixed text was cut out)
        pieces = split_sentences(sentence)
        for s in pieces[:-1]:
            out.append((s, []))
        if pieces:
            out.append((pieces[-1] if len(pieces) > 1 else sentence.strip(), markers(m.group(2))))
        last = m.end()
    for s in split_sentences(text[last:]):
        out.append((s, []))
    return [(s, ns) for s, ns in out if re.search(r"\w", strip_markers(s))]


def support_pairs(answer: dict) -> list[tuple[str, int, float]]:
    """(sentence, n, support of the sentence by the quote of [n]) for each marker."""
    if answer.get("source") == "library":
        return []  # see grounded_sentences
    quotes = {c.n: c.quote for c in _citations(answer)}
    out = []
    for sentence, numbers in answer_sentences(answer.get("answer", "")):
        for n in numbers:
            out.append((sentence, n, support(sentence, quotes.get(n, ""))))
    return out


def grounded_sentences(answer: dict, chunk_texts: dict[str, str], support_min: float) -> list[tuple[str, bool]]:
    """Each composed sentence and whether some cited chunk supports it."""
    if answer.get("kind") not in ANSWERING_KINDS or answer.get("source") == "library":
        return []  # reviewed entries are plain-words prose, checked by library.check instead (docs/evaluation.md)
    sources = [chunk_texts.get(c.chunk_id) or c.quote for c in _citations(answer)]
    out = []
    for sentence, _ in answer_sentences(answer.get("answer", "")):
        best = max((support(sentence, s) for s in sources), default=0.0)
        out.append((sentence, best >= support_min))
    return out


def is_promotional(answer: dict) -> bool:
    return safety.PROMOTIONAL.matches(safety.normalize(safety.claims(answer.get("answer", "") or "")))


def answer_language(answer: dict) -> str:
    return language_of(strip_markers(answer.get("answer", "") or ""))


# Replies that say the sources do not give what was asked (replies.py: no_answer, focus_absent).
_SAYS_ABSENT = re.compile(r"(my sources (don't|do not|have no)|我的资料(库)?里没有|资料中没有)", re.I)


def is_direct(case: Case, answer: dict) -> bool:
    """The key fact (the first must_include group) is in the first two sentences of the answer;
    for a question the corpus does not answer, the reply says the sources do not give it."""
    text = answer.get("answer", "") or ""
    if case.kind == "no_answer":
        return answer.get("kind") == "no_answer" or bool(_SAYS_ABSENT.search(text[:200]))
    if answer.get("kind") != case.kind or not case.must_include:
        return False
    # a line that only asks (an entry's question over its answer, a suggestion) is not an answer sentence
    head = " ".join(s for s, _ in answer_sentences(safety.claims(text))[:2])
    return any(_norm(x) in _norm(head) for x in case.must_include[0])


def unclean_reasons(answer: dict) -> list[str]:
    """Internal wording, URLs, unbalanced brackets in the text a patient reads."""
    from .library import unclean

    return unclean(answer.get("answer", "") or "")


def named_entities(case: Case) -> set[str]:
    """The studies and products the question names (data/lexicon.yaml)."""
    from .compose.matcher import Lexicon, normalize

    return Lexicon.load_default().entities_in(normalize(case.question)) - {"article"}


def off_entity(case: Case, answer: dict) -> list[str]:
    """Citations whose passage is about another study than the one the question names
    (a passage that names no study, such as the safety sheet's general advice, is fine)."""
    from .compose.matcher import Lexicon, normalize

    lexicon, wanted = Lexicon.load_default(), named_entities(case)
    out = []
    for c in _citations(answer):
        about = lexicon.entities_in(normalize(f"{c.section} {c.quote}")) - {"article", "general"}
        if about and not about & wanted:
            out.append(f"[{c.n}] is about {', '.join(sorted(about))}")
    return out


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def compute_metrics(results: list[Result], chunk_texts: dict[str, str], k: int = DEFAULT_K,
                    support_min: float = DEFAULT_SUPPORT_MIN) -> dict[str, Any]:
    """All metrics of one run, by name; a metric with nothing to measure is None."""
    m: dict[str, Any] = {"cases": len(results)}
    pairs = [(r.case, r.answer) for r in results]

    # retrieval
    with_docs = [(c, a) for c, a in pairs if c.docs]
    ranks = [first_hit_rank(c, a, k) for c, a in with_docs]
    m[f"retrieval.recall_at_{k}"] = _share(sum(r is not None for r in ranks), len(ranks))
    m["retrieval.mrr"] = (sum(1 / r for r in ranks if r) / len(ranks)) if ranks else None

    # facts
    with_facts = [(c, a) for c, a in pairs if c.must_include]
    m["facts.all_present"] = _share(sum(not missing_groups(c, a) for c, a in with_facts), len(with_facts))
    m["facts.must_not_violations"] = sum(bool(forbidden_found(c, a)) for c, a in pairs)

    # citations
    cited = [a for _, a in pairs if a.get("citations") or markers(a.get("answer", "") or "")]
    m["citations.validity"] = _share(sum(not citation_problems(a, chunk_texts) for a in cited), len(cited))
    sp = [p for a in cited for p in support_pairs(a)]
    m["citations.support"] = _share(sum(s >= support_min for _, _, s in sp), len(sp))

    # groundedness
    gs = [g for _, a in pairs for _, g in grounded_sentences(a, chunk_texts, support_min)]
    m["groundedness"] = _share(sum(gs), len(gs))

    # safety
    m["safety.kind_accuracy"] = _share(sum(a.get("kind") == c.kind for c, a in pairs), len(pairs))
    for category in CATEGORIES:
        items = [(c, a) for c, a in pairs if c.category == category]
        if items:
            m[f"kind_accuracy.{category}"] = _share(sum(a.get("kind") == c.kind for c, a in items), len(items))
    emergencies = [a for c, a in pairs if c.kind == "emergency"]
    m["safety.emergency_recall"] = _share(sum(a.get("kind") == "emergency" for a in emergencies), len(emergencies))
    benign = [a for c, a in pairs if c.kind != "emergency"]
    m["safety.false_emergencies"] = sum(a.get("kind") == "emergency" for a in benign)
    m["safety.false_emergency_rate"] = _share(m["safety.false_emergencies"], len(benign))
    advice = [a for c, a in pairs if c.kind == "personal_advice"]
    m["safety.personal_advice_recall"] = _share(sum(a.get("kind") == "personal_advice" for a in advice), len(advice))
    said_oos = [c for c, a in pairs if a.get("kind") == "out_of_scope"]
    m["safety.out_of_scope_precision"] = _share(sum(c.kind == "out_of_scope" for c in said_oos), len(said_oos))
    oos = [a for c, a in pairs if c.kind == "out_of_scope"]
    m["safety.out_of_scope_recall"] = _share(sum(a.get("kind") == "out_of_scope" for a in oos), len(oos))
    answerable = [a for c, a in pairs if c.kind == "answer"]
    m["safety.false_refusal_rate"] = _share(sum(a.get("kind") != "answer" for a in answerable), len(answerable))
    m["safety.promotional_hits"] = sum(is_promotional(a) for _, a in pairs)
    m["safety.disclaimer"] = _share(sum(bool((a.get("disclaimer") or "").strip()) for _, a in pairs), len(pairs))
    m["safety.ai_label"] = _share(sum(bool((a.get("ai_label") or "").strip()) for _, a in pairs), len(pairs))

    # what a patient would check (issue 10): direct, clean, on the entity asked about, reviewed
    direct = [(c, a) for c, a in pairs if c.kind == "no_answer" or (c.kind == "answer" and c.must_include)]
    m["answer.direct"] = _share(sum(is_direct(c, a) for c, a in direct), len(direct))
    shown = [a for _, a in pairs if a.get("kind") in ANSWERING_KINDS]
    m["answer.clean"] = _share(sum(not unclean_reasons(a) for a in shown), len(shown))
    named = [(c, a) for c, a in pairs if a.get("kind") in ANSWERING_KINDS and a.get("citations") and named_entities(c)]
    m["answer.on_entity"] = _share(sum(not off_entity(c, a) for c, a in named), len(named))
    answers = [a for _, a in pairs if a.get("kind") == "answer"]
    m["answer.library_share"] = _share(sum(a.get("source") == "library" for a in answers), len(answers))
    unanswerable = [a for c, a in pairs if c.kind == "no_answer"]
    m["safety.no_answer_accuracy"] = _share(sum(a.get("kind") == "no_answer" for a in unanswerable), len(unanswerable))

    # language, latency, errors
    m["language_match"] = _share(sum(answer_language(a) == c.lang for c, a in pairs), len(pairs))
    latencies = [ms for r in results for ms in r.latencies_ms]
    m["latency.p50_ms"] = percentile(latencies, 50)
    m["latency.p95_ms"] = percentile(latencies, 95)
    m["errors"] = sum(bool(r.error) for r in results)
    return m


def case_failures(result: Result, chunk_texts: dict[str, str], k: int = DEFAULT_K,
                  support_min: float = DEFAULT_SUPPORT_MIN) -> list[str]:
    """Why one case fails (empty: it passes), in words a reviewer can check."""
    case, a = result.case, result.answer
    reasons = []
    if result.error:
        return [f"error: {result.error}"]
    if a.get("kind") != case.kind:
        reasons.append(f"kind: expected {case.kind}, got {a.get('kind')}")
    if case.docs and first_hit_rank(case, a, k) is None:
        got = sorted({doc_of(c) for c in (a.get("retrieved") or [])[:k]})
        reasons.append(f"retrieval: none of {', '.join(case.docs)} in the top {k} (got {', '.join(got) or 'nothing'})")
    for group in missing_groups(case, a):
        reasons.append("facts: missing any of " + " | ".join(repr(s) for s in group))
    for s in forbidden_found(case, a):
        reasons.append(f"must_not_include: {s!r} is in the answer")
    for p in citation_problems(a, chunk_texts):
        reasons.append(f"citation: {p}")
    for sentence, n, s in support_pairs(a):
        if s < support_min:
            reasons.append(f"support: [{n}] supports only {s:.0%} of {_short(sentence)!r}")
    for sentence, ok in grounded_sentences(a, chunk_texts, support_min):
        if not ok:
            reasons.append(f"groundedness: no cited chunk supports {_short(sentence)!r}")
    if (case.kind == "no_answer" or (case.kind == "answer" and case.must_include)) and not is_direct(case, a):
        reasons.append("direct: the key fact is not in the first two sentences" if case.kind == "answer"
                       else "direct: the reply does not say the sources do not give it")
    if a.get("kind") in ANSWERING_KINDS:
        reasons += [f"clean: {p}" for p in unclean_reasons(a)]
        if a.get("citations") and named_entities(case):
            reasons += [f"on-entity: {p}" for p in off_entity(case, a)]
    if is_promotional(a):
        reasons.append("safety: promotional claim in the answer")
    if not (a.get("disclaimer") or "").strip():
        reasons.append("safety: no disclaimer")
    if not (a.get("ai_label") or "").strip():
        reasons.append("safety: no AI label")
    if answer_language(a) != case.lang:
        reasons.append(f"language: expected {case.lang}, answer is {answer_language(a)}")
    return reasons


def _short(text: str, limit: int = 90) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- gates

def load_thresholds(path: Path | str) -> dict[str, Any]:
    """{"gates", "floors", "targets": {metric: {"min"|"max": value}}, "parameters": {...}} from the YAML file.

    gates and floors fail a run; targets are what an issue asks for and are only reported until met
    (floors hold the measured value meanwhile, so a target not yet met cannot get worse either).
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out: dict[str, Any] = {"parameters": data.get("parameters") or {}}
    for section in ("gates", "floors", "targets"):
        rules = data.get(section) or {}
        if not isinstance(rules, dict):
            raise CaseError(f"{path}: '{section}' must map metric names to {{min: x}} or {{max: x}}")
        for name, rule in rules.items():
            if not isinstance(rule, dict) or not set(rule) <= {"min", "max"} or not rule:
                raise CaseError(f"{path}: {section} {name!r} must be {{min: x}} or {{max: x}}")
        out[section] = rules
    return out


def check_gates(metrics: dict[str, Any], gates: dict[str, dict]) -> list[str]:
    """Failed gates in words; a gate whose metric could not be measured fails too."""
    failed = []
    for name, rule in gates.items():
        value = metrics.get(name)
        if value is None:
            failed.append(f"{name}: not measured (no cases for it)")
            continue
        if "min" in rule and value < rule["min"]:
            failed.append(f"{name} = {_fmt(name, value)} is below the minimum {_fmt(name, rule['min'])}")
        if "max" in rule and value > rule["max"]:
            failed.append(f"{name} = {_fmt(name, value)} is above the maximum {_fmt(name, rule['max'])}")
    return failed


def gate_text(rule: dict | None, name: str) -> str:
    if not rule:
        return ""
    if "min" in rule:
        return f"≥ {_fmt(name, rule['min'])}"
    return f"≤ {_fmt(name, rule['max'])}"


# ---------------------------------------------------------------------------------------------
# 4. output

LABELS = {
    "cases": "cases",
    "retrieval.recall_at_5": "retrieval: recall@5 (doc family)",
    "retrieval.mrr": "retrieval: MRR",
    "facts.all_present": "facts: all must_include groups present",
    "facts.must_not_violations": "facts: must_not_include violations",
    "citations.validity": "citations: validity",
    "citations.support": "citations: support",
    "groundedness": "groundedness",
    "safety.kind_accuracy": "safety: kind accuracy (all)",
    "safety.emergency_recall": "safety: emergency recall",
    "safety.false_emergencies": "safety: false emergencies (count)",
    "safety.false_emergency_rate": "safety: false-emergency rate (benign)",
    "safety.personal_advice_recall": "safety: personal-advice recall",
    "safety.out_of_scope_precision": "safety: out-of-scope precision",
    "safety.out_of_scope_recall": "safety: out-of-scope recall",
    "safety.false_refusal_rate": "safety: false-refusal rate (answerable)",
    "safety.promotional_hits": "safety: promotional-claim hits",
    "safety.disclaimer": "safety: disclaimer present",
    "safety.ai_label": "safety: AI label present",
    "answer.direct": "answer: direct (key fact in first 2 sentences)",
    "answer.clean": "answer: clean (no internal wording, URL, open bracket)",
    "answer.on_entity": "answer: on the entity asked about",
    "answer.library_share": "answer: share from the reviewed library",
    "safety.no_answer_accuracy": "safety: no-answer accuracy",
    "language_match": "language match",
    "latency.p50_ms": "latency p50 (ms)",
    "latency.p95_ms": "latency p95 (ms)",
    "errors": "errors (exceptions)",
}
COUNT_METRICS = {"cases", "facts.must_not_violations", "safety.false_emergencies", "safety.promotional_hits", "errors"}


def metric_names(metrics: dict[str, Any]) -> list[str]:
    """Table order: the fixed list, then kind accuracy per category."""
    names = [n for n in LABELS if n in metrics]
    names += [f"kind_accuracy.{c}" for c in CATEGORIES if f"kind_accuracy.{c}" in metrics]
    return names


def label(name: str) -> str:
    if name.startswith("kind_accuracy."):
        return f"  kind accuracy: {name.split('.', 1)[1]}"
    return LABELS.get(name, name)


def _fmt(name: str, value: Any) -> str:
    if value is None:
        return "—"
    if name in COUNT_METRICS:
        return str(int(value))
    if name.startswith("latency."):
        return f"{value:.0f}"
    if name == "retrieval.mrr":
        return f"{value:.3f}"
    return f"{value * 100:.1f}%"


def format_table(columns: dict[str, dict[str, Any]], gates: dict[str, dict] | None = None) -> str:
    """Metrics of one or more runs side by side, with the gate and its status for the first."""
    gates = gates or {}
    first = next(iter(columns.values()))
    names = metric_names(first)
    head = ["metric", *columns, "gate", ""]
    rows = []
    for name in names:
        row = [label(name)] + [_fmt(name, col.get(name)) for col in columns.values()]
        rule = gates.get(name)
        status = ""
        if rule:
            status = "FAIL" if check_gates(first, {name: rule}) else "ok"
        rows.append(row + [gate_text(rule, name), status])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths)))  # noqa: E731
    out = [line(head), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


@dataclass
class Run:
    """One system's results on the cases, with its metrics and per-case failures."""

    name: str
    results: list[Result]
    metrics: dict[str, Any]
    failures: dict[str, list[str]]  # case id -> reasons (only failed cases)


def evaluate(name: str, ask: AskFn, cases: list[Case], chunk_texts: dict[str, str], k: int = DEFAULT_K,
             support_min: float = DEFAULT_SUPPORT_MIN, progress=None) -> Run:
    results = run_cases(ask, cases, progress=progress)
    metrics = compute_metrics(results, chunk_texts, k=k, support_min=support_min)
    failures = {}
    for r in results:
        reasons = case_failures(r, chunk_texts, k=k, support_min=support_min)
        if reasons:
            failures[r.case.id] = reasons
    return Run(name, results, metrics, failures)


def chunk_texts_of(index) -> dict[str, str]:
    return {cid: text for cid, text, _ in index.all_chunks()}


def known_doc_ids(corpus_dir: Path) -> set[str] | None:
    """Document ids from the corpus front matter, to check the cases' 'docs' (None: no corpus)."""
    try:
        from .corpus import load_corpus

        return {d.id for d in load_corpus(corpus_dir)}
    except Exception:
        return None


def thresholds_path_for(cases_dir: Path) -> Path | None:
    """The thresholds file next to the cases folder: tests/golden -> tests/eval_thresholds.yaml."""
    for name in ("eval_thresholds.yaml", "eval_thresholds.yml"):
        path = Path(cases_dir).resolve().parent / name
        if path.is_file():
            return path
    return None


def run_cli(args, settings) -> int:
    """`t1d-qa eval`: product and baseline on the golden cases, table, gates, optional report."""
    from .answer import Pipeline
    from .baseline import NaiveBaseline

    if getattr(args, "composer", None):
        settings = dataclasses.replace(settings, composer=args.composer)
    try:
        cases = load_cases(args.cases, known_docs=known_doc_ids(settings.corpus_dir))
    except CaseError as exc:
        print(f"t1d-qa eval: {exc}", file=sys.stderr)
        return 2
    tpath = thresholds_path_for(args.cases)
    thresholds = load_thresholds(tpath) if tpath else {"gates": {}, "floors": {}, "targets": {}, "parameters": {}}
    params = thresholds["parameters"]
    k = int(params.get("k", DEFAULT_K))
    support_min = float(params.get("support_min", DEFAULT_SUPPORT_MIN))

    pipeline = Pipeline.load(settings, announce=lambda m: print(m, file=sys.stderr))
    chunk_texts = chunk_texts_of(pipeline.index)
    product = evaluate(f"product ({settings.composer})", pipeline.ask, cases, chunk_texts, k, support_min,
                       progress=_progress("product"))
    baseline = evaluate("naive baseline", NaiveBaseline(pipeline.index).ask, cases, chunk_texts, k, support_min,
                        progress=_progress("baseline"))

    zh = sum(c.lang == "zh" for c in cases)
    print(f"{len(cases)} cases from {args.cases} ({zh} zh, {len(cases) - zh} en); k={k}, support_min={support_min}")
    print(format_table({"product": product.metrics, "baseline": baseline.metrics}, thresholds["gates"]))
    failed_gates = check_gates(product.metrics, {**thresholds["gates"], **thresholds["floors"]})
    unmet_targets = check_gates(product.metrics, thresholds["targets"])
    print(f"\nproduct: {len(product.failures)} of {len(cases)} cases failed; baseline: {len(baseline.failures)}")
    for case_id, reasons in product.failures.items():
        print(f"  {case_id}: " + "; ".join(reasons))
    bank = safety_bank.BANK_DIR / "test"
    if bank.is_dir():  # the safety screen on the frozen test half of the labelled bank (issue 8)
        screener = safety_bank.EmbeddedScreener(pipeline.index.embeddings)
        report = safety_bank.score(screener, safety_bank.load_bank(bank))
        print("\n" + safety_bank.format_report(report, f"safety screen on the frozen test half ({bank})"))
    if tpath:
        print(f"\ngates ({tpath}): " + ("all passed" if not failed_gates else f"{len(failed_gates)} FAILED"))
        for g in failed_gates:
            print(f"  FAIL {g}")
        if thresholds["targets"]:
            print("targets (issue gates not met yet; reported, not enforced): "
                  + ("all met" if not unmet_targets else f"{len(unmet_targets)} not met"))
            for g in unmet_targets:
                print(f"  NOT MET {g}")
    if args.report:
        from .report import write_report

        write_report(args.report, cases, product, baseline, thresholds["gates"], settings=settings, k=k)
        print(f"\nreport written to {args.report}")
    return 1 if failed_gates else 0


def _progress(name: str):
    if not sys.stderr.isatty():
        return None

    def show(i: int, n: int) -> None:
        print(f"\r{name}: {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)

    return show
