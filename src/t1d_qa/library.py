"""The reviewed answer library (corpus/answers/*.yaml): load, validate, verify against the corpus.

Format, entities and aspects: docs/answer-library.md. Verification is the check a clinic runs
when it adds an entry (`t1d-qa index`, or `python -m t1d_qa.library check`): every `cite`
names exactly one `##` section of a corpus document in the entry's language, every number of
a sentence occurs in that section, and no sentence carries a claim the safety check blocks or
wording that is not for patients.
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import safety
from .corpus import LANGS, CorpusError, Document, language_of, load_corpus

log = logging.getLogger(__name__)
ENTITIES = ("general", "zimislecel", "cipsc", "sichuan", "lantidra", "msc", "teplizumab", "article")
ASPECTS = (
    "overview", "how_made", "placement", "results", "stop_insulin", "durability", "risks", "deaths",
    "immunosuppression", "eligibility", "who_ran", "approval", "cost", "access", "legitimacy", "children",
    "cure", "comparison", "definition", "glucose_control", "complications", "relatives", "article_claims",
    "other",
)
MIN_PARAPHRASES = 6
MIN_SENTENCES, MAX_SENTENCES = 2, 6
ENTRY_KEYS = ("id", "entities", "aspect", "question", "paraphrases", "answer")
# An entry marked `focus_absent: true` answers a question whose focus the sources do not give (a
# price, insurance): its first sentence must say so in these words, and the reply's kind is
# no_answer, with the related facts that follow (issue 10: "honest partial answers").
ABSENT_LEAD = {
    "en": re.compile(r"^my sources (don't|do not) (give|say|cover)", re.I),
    "zh": re.compile(r"^我的资料里?没有(给出|提供|说明|涉及)"),
}
FILE_KEYS = ("lang", "kind", "reviewed", "reviewer", "entries")

# Wording that belongs to the project's editing, not to a reply a patient reads (issue 10).
INTERNAL_WORDING = (
    "editor's note", "editor’s note", "t1d-qa", "seed article", "种子文章", "编者注", "编者说明",
    "见上一节", "见下一节", "上一节", "the section above", "section above", "section below", "如下表",
    "the table below", "the table above",
)
_URL = re.compile(r"(https?://|www\.|\bdoi\s*:|\b10\.\d{4,9}/\S+)", re.I)
_BRACKETS = {"(": ")", "（": "）", "[": "]", "【": "】", "“": "”", "「": "」", "《": "》"}
# A number as written in a sentence: 12, 7.8, 1,000, 83% (full-width forms are NFKC-folded first).
_NUMBER = re.compile(r"(?<![\d.])\d+(?:[.,]\d+)*(?![\d])")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


class LibraryError(CorpusError):
    """The answer library cannot be used; the message names file, entry and sentence."""


@dataclass(frozen=True)
class Sentence:
    text: str
    doc_id: str
    heading: str  # the `##` heading the cite resolved to


@dataclass(frozen=True)
class Entry:
    id: str
    lang: str
    entities: tuple[str, ...]
    aspect: str
    question: str
    paraphrases: tuple[str, ...]
    answer: tuple[Sentence, ...]
    reviewed: str
    reviewer: str
    path: Path
    focus_absent: bool = False  # the sources do not give what is asked; the reply's kind is no_answer

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.lang)


@dataclass(frozen=True)
class Asked:
    """A question as a patient asked it (corpus/answers/asked/): which entry answers it, or none."""

    text: str
    entry_id: str  # an entry's id, or "none": on the topic, but no entry answers it
    lang: str
    path: Path


@dataclass(frozen=True)
class Library:
    entries: tuple[Entry, ...] = ()
    asked: tuple[Asked, ...] = ()  # patients' questions labelled with their entry: the matcher trains on them too

    def get(self, entry_id: str, lang: str) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id and e.lang == lang), None)

    def in_language(self, lang: str) -> list[Entry]:
        return [e for e in self.entries if e.lang == lang]

    def __len__(self) -> int:
        return len(self.entries)


# -- text checks shared with the evaluation's "clean" check


def unclean(text: str) -> list[str]:
    """Why a text is not fit to show a patient: internal wording, a URL or DOI, an open bracket."""
    problems = []
    low = unicodedata.normalize("NFKC", text).lower()
    for phrase in INTERNAL_WORDING:
        if phrase in low:
            problems.append(f"internal wording {phrase!r}")
    if _URL.search(text):
        problems.append("a URL or DOI")
    if not balanced(text):
        problems.append("unbalanced brackets or quotes")
    return problems


def balanced(text: str) -> bool:
    closing = {v: k for k, v in _BRACKETS.items()}
    stack = []
    for ch in text:
        if ch in _BRACKETS:
            stack.append(ch)
        elif ch in closing:
            if not stack or stack[-1] != closing[ch]:
                return False
            stack.pop()
    return not stack


def numbers_in(text: str) -> set[str]:
    """The numbers of a text, normalised: "1,000" -> "1000", "７.８" -> "7.8"."""
    text = unicodedata.normalize("NFKC", text)
    return {m.replace(",", "") for m in _NUMBER.findall(text)}


# -- the corpus side: `##` sections


def h2_sections(doc: Document) -> list[tuple[str, str]]:
    """(heading, text) for each `##` section, its `###` subsections and their headings included."""
    out: list[tuple[str, list[str]]] = []
    for line in doc.body.splitlines():
        match = _HEADING.match(line)
        level = len(match.group(1)) if match else 0
        if match and level <= 2:
            out.append((match.group(2), []) if level == 2 else ("", []))
            continue
        if out:
            out[-1][1].append(match.group(2) if match else line)
    return [(h, "\n".join(lines)) for h, lines in out if h]


def resolve_cite(cite: str, docs: dict[str, Document]) -> tuple[Document, str, str]:
    """(document, heading, section text) named by "<doc_id> § <heading words>"; ValueError if not one."""
    doc_id, sep, words = (part.strip() for part in str(cite).partition("§"))
    if not sep or not doc_id or not words:
        raise ValueError(f"cite {cite!r} is not '<doc_id> § <words of a section heading>'")
    doc = docs.get(doc_id)
    if doc is None:
        raise ValueError(f"cite {cite!r}: no corpus document has id {doc_id!r}")
    want, found = _fold(words), h2_sections(doc)
    # the whole heading, else the words as one phrase, else all the words anywhere in it
    for test in (str.__eq__, str.__contains__, lambda h, w: all(x in h for x in w.split(" "))):
        matches = [(h, t) for h, t in found if test(_fold(h), want)]
        if matches:
            break
    if len(matches) != 1:
        found = "no" if not matches else f"{len(matches)} ({'; '.join(h for h, _ in matches)})"
        raise ValueError(f"cite {cite!r}: {found} `##` headings of {doc_id} contain {words!r}; it must be exactly one")
    return doc, matches[0][0], matches[0][1]


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


# -- loading and validation


def library_dir(corpus_dir: Path) -> Path:
    return Path(corpus_dir) / "answers"


def load_library(corpus_dir: Path, docs: list[Document] | None = None, strict: bool = True) -> Library:
    """The verified library of corpus_dir/answers; raises LibraryError listing every problem.

    strict=False (answering, not indexing) keeps the entries that verify and logs the problems.
    """
    entries, problems = _load(Path(corpus_dir), docs)
    asked, trouble = load_asked(library_dir(Path(corpus_dir)) / "asked", entries)
    problems += trouble
    if problems and not strict:
        log.warning("answer library: %d problem(s), first: %s; run `t1d-qa index`", len(problems), problems[0])
        return Library(tuple(entries), tuple(asked))
    if problems:
        raise LibraryError(f"the answer library has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return Library(tuple(entries), tuple(asked))


def check(corpus_dir: Path, docs: list[Document] | None = None) -> list[str]:
    """Every problem of the library, one line each (empty when it verifies)."""
    entries, problems = _load(Path(corpus_dir), docs)
    return problems + load_asked(library_dir(Path(corpus_dir)) / "asked", entries)[1]


def load_asked(folder: Path, entries: list[Entry] | tuple[Entry, ...]) -> tuple[list[Asked], list[str]]:
    """The labelled questions of folder/*.yaml (format: docs/answer-library.md, "Asked questions"), and every
    problem: a file that is not a mapping with lang and questions, an item without text, an unknown entry id."""
    asked, problems = [], []
    ids = {(e.id, e.lang) for e in entries}
    for path in sorted(Path(folder).glob("*.yaml")) if Path(folder).is_dir() else []:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: not valid UTF-8 YAML ({exc})")
            continue
        if not isinstance(data, dict) or data.get("lang") not in LANGS or not isinstance(data.get("questions"), list):
            problems.append(f"{path}: must be a mapping with lang ({', '.join(LANGS)}) and a list of questions")
            continue
        for n, item in enumerate(data["questions"], 1):
            text = item.get("text") if isinstance(item, dict) else None
            entry_id = str(item.get("id", "")) if isinstance(item, dict) else ""
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{path}: question {n} has no text")
            elif entry_id != "none" and (entry_id, data["lang"]) not in ids:
                problems.append(f"{path}: question {n} names {entry_id!r}, not an entry of the {data['lang']} library")
            else:
                asked.append(Asked(text.strip(), entry_id, data["lang"], path))
    return asked, problems


def _load(corpus_dir: Path, docs: list[Document] | None) -> tuple[list[Entry], list[str]]:
    folder = library_dir(corpus_dir)
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []
    if not paths:
        return [], []
    corpus = {d.id: d for d in (docs if docs is not None else load_corpus(corpus_dir))}
    entries, problems = [], []
    for path in paths:
        found, trouble = _load_file(path, corpus)
        entries += found
        problems += trouble
    problems += _cross_checks(entries)
    return entries, problems


def _load_file(path: Path, corpus: dict[str, Document]) -> tuple[list[Entry], list[str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return [], [f"{path}: not valid UTF-8 YAML ({exc})"]
    if not isinstance(data, dict):
        return [], [f"{path}: must be a mapping with {', '.join(FILE_KEYS)}"]
    missing = [k for k in FILE_KEYS if not data.get(k)]
    if missing:
        return [], [f"{path}: lacks {', '.join(missing)}"]
    lang = data["lang"]
    if lang not in LANGS:
        return [], [f"{path}: lang must be one of {LANGS}, not {lang!r}"]
    if data["kind"] != "answer":
        return [], [f"{path}: kind must be 'answer', not {data['kind']!r}"]
    if not isinstance(data["entries"], list):
        return [], [f"{path}: entries must be a list"]
    entries, problems = [], []
    for i, raw in enumerate(data["entries"], 1):
        name = raw.get("id") if isinstance(raw, dict) and raw.get("id") else f"#{i}"
        where = f"{path}: entry {name}"
        entry, trouble = _load_entry(raw, where, path, lang, data, corpus)
        problems += trouble
        if entry is not None:
            entries.append(entry)
    return entries, problems


def _load_entry(raw, where: str, path: Path, lang: str, meta: dict, corpus: dict[str, Document]):
    if not isinstance(raw, dict):
        return None, [f"{where}: must be a mapping with {', '.join(ENTRY_KEYS)}"]
    missing = [k for k in ENTRY_KEYS if not raw.get(k)]
    if missing:
        return None, [f"{where}: lacks {', '.join(missing)}"]
    problems = []
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", str(raw["id"])):
        problems.append(f"{where}: id must be lower-case letters, digits, '-' and '_'")
    entities = raw["entities"] if isinstance(raw["entities"], list) else [raw["entities"]]
    unknown = [e for e in entities if e not in ENTITIES]
    if unknown:
        problems.append(f"{where}: unknown entities {unknown}; use {', '.join(ENTITIES)}")
    if raw["aspect"] not in ASPECTS:
        problems.append(f"{where}: unknown aspect {raw['aspect']!r}; use {', '.join(ASPECTS)}")
    paraphrases = [str(p).strip() for p in raw["paraphrases"] if str(p).strip()] if isinstance(
        raw["paraphrases"], list) else []
    if len(set(paraphrases)) < MIN_PARAPHRASES:
        problems.append(f"{where}: {len(set(paraphrases))} distinct paraphrases; at least {MIN_PARAPHRASES} needed")
    for p in [str(raw["question"])] + paraphrases:
        if language_of(p) != lang:
            problems.append(f"{where}: question/paraphrase {p!r} is not in the file's language ({lang})")
    answer = raw["answer"] if isinstance(raw["answer"], list) else []
    if not MIN_SENTENCES <= len(answer) <= MAX_SENTENCES:
        problems.append(f"{where}: {len(answer)} answer sentences; {MIN_SENTENCES}-{MAX_SENTENCES} needed")
    focus_absent = raw.get("focus_absent", False)
    if not isinstance(focus_absent, bool):
        problems.append(f"{where}: focus_absent must be true or false")
    elif focus_absent and answer and not ABSENT_LEAD[lang].search(str(answer[0].get("text", "")).strip()
                                                                  if isinstance(answer[0], dict) else ""):
        problems.append(f"{where}: focus_absent entries start by saying the sources do not give it "
                        f"({ABSENT_LEAD[lang].pattern!r})")
    sentences = []
    for n, item in enumerate(answer, 1):
        sentence, trouble = _verify_sentence(item, f"{where}, sentence {n}", lang, corpus)
        problems += trouble
        if sentence is not None:
            sentences.append(sentence)
    entry = Entry(
        id=str(raw["id"]), lang=lang, entities=tuple(entities), aspect=str(raw["aspect"]),
        question=str(raw["question"]).strip(), paraphrases=tuple(dict.fromkeys(paraphrases)),
        answer=tuple(sentences), reviewed=str(meta["reviewed"]), reviewer=str(meta["reviewer"]), path=path,
        focus_absent=focus_absent is True,
    )
    return (None if problems else entry), problems


def _verify_sentence(item, where: str, lang: str, corpus: dict[str, Document]):
    if not isinstance(item, dict) or not str(item.get("text") or "").strip() or not item.get("cite"):
        return None, [f"{where}: must have text and cite"]
    text = str(item["text"]).strip()
    where = f"{where} ({text[:60]!r})"
    try:
        doc, heading, section = resolve_cite(item["cite"], corpus)
    except ValueError as exc:
        return None, [f"{where}: {exc}"]
    problems = []
    if doc.lang != lang:
        problems.append(f"{where}: cites {doc.id} ({doc.lang}); cite the document in {lang}")
    absent = sorted(numbers_in(text) - numbers_in(section), key=lambda s: (len(s), s))
    if absent:
        problems.append(f"{where}: {', '.join(absent)} not in {doc.id} § {heading}")
    problems += [f"{where}: the safety check blocks it ({p})" for p in safety.violations(text)]
    problems += [f"{where}: {p}" for p in unclean(text)]
    return Sentence(text, doc.id, heading), problems


def _cross_checks(entries: list[Entry]) -> list[str]:
    """Ids unique per language; twins (same id in zh and en) exist and agree on entities and aspect."""
    problems, by_key, by_id = [], {}, {}
    for e in entries:
        if e.key in by_key:
            problems.append(f"{e.path}: entry {e.id} is also in {by_key[e.key].path} ({e.lang})")
        by_key[e.key] = e
        by_id.setdefault(e.id, {})[e.lang] = e
    langs_present = {e.lang for e in entries}
    for entry_id, twins in sorted(by_id.items()):
        for lang in sorted(langs_present - set(twins)):
            only = next(iter(twins.values()))
            problems.append(f"{only.path}: entry {entry_id} has no twin in the {lang} library")
        if len(twins) == 2:
            zh, en = twins["zh"], twins["en"]
            if set(zh.entities) != set(en.entities) or zh.aspect != en.aspect or zh.focus_absent != en.focus_absent:
                problems.append(f"{zh.path}: entry {entry_id}: entities/aspect/focus_absent differ from its twin "
                                f"in {en.path}")
    seen: dict[tuple[str, str], str] = {}
    for e in entries:
        for p in (e.question, *e.paraphrases):
            key = (e.lang, _fold(p))
            if key in seen and seen[key] != e.id:
                problems.append(f"{e.path}: entry {e.id}: paraphrase {p!r} is also in entry {seen[key]}")
            seen[key] = e.id
    return problems


def main(argv: list[str] | None = None) -> int:
    """python -m t1d_qa.library check [CORPUS_DIR]: print the library's problems."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "check":
        print("usage: python -m t1d_qa.library check [CORPUS_DIR]  (default: $T1D_QA_CORPUS_DIR or corpus)")
        return 2
    from .config import Settings

    corpus_dir = Path(args[1]) if len(args) > 1 else Settings.from_env().corpus_dir
    try:
        problems = check(corpus_dir)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    entries, _ = _load(corpus_dir, None)
    counts = ", ".join(f"{lang}: {sum(e.lang == lang for e in entries)}" for lang in LANGS)
    print(f"answer library verified: {len(entries)} entries ({counts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
