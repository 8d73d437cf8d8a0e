"""Load corpus documents (front matter + Markdown) and split them into chunks with stable ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

KINDS = ("article", "reference", "safety")
LANGS = ("zh", "en")
REQUIRED_KEYS = ("id", "title", "lang", "kind", "source", "reviewed")
# Optional front matter: sections whose claims can go out of date (approval status, trial phase),
# each with the date its facts were last confirmed and where (see corpus/SOURCES.md).
TIME_SENSITIVE_KEYS = ("section", "as_of", "source")
# Files in the corpus folder that document it rather than belong to it.
NOT_DOCUMENTS = {"SOURCES.md", "README.md"}

# A sentence ends at Chinese 。！？； (plus closing quotes/brackets), or at . ! ? followed by
# whitespace; a number like "7.8" or "e.g." mid-sentence has no whitespace after the dot.
_SENTENCE_END = re.compile(
    r"(?<=[。！？；!?])[”」』）)]*\s*"
    r"|(?<=[.])(?<!\b[A-Z]\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bet al\.)(?<!\bvs\.)(?<!\bNo\.)\s+"
)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CJK = re.compile(r"[\u3400-\u9fff]")


class CorpusError(ValueError):
    """A corpus file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class TimeSensitive:
    """A section whose claims were true as of a date, confirmed by a named source."""

    heading: str  # the full `##` heading the entry's words matched
    as_of: str  # YYYY-MM-DD
    source: str


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    lang: str
    kind: str
    source: str
    reviewed: str
    body: str
    path: Path
    time_sensitive: tuple[TimeSensitive, ...] = ()

    @property
    def family(self) -> str:
        """The id without its language suffix: article-zh and article-en are one family."""
        return family_of(self.id)


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    title: str
    section: str
    lang: str
    kind: str
    source: str
    text: str
    sentences: tuple[str, ...] = field(default=(), compare=False)
    reviewed: str = ""
    as_of: str = ""  # set when the chunk's section is time-sensitive
    as_of_source: str = ""

    def metadata(self) -> dict[str, str]:
        meta = {
            "chunk_id": self.id,
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "lang": self.lang,
            "kind": self.kind,
            "source": self.source,
            "reviewed": self.reviewed,
        }
        if self.as_of:  # Chroma metadata cannot hold None: absent means "not time-sensitive"
            meta.update(as_of=self.as_of, as_of_source=self.as_of_source)
        return meta


def family_of(doc_id: str) -> str:
    return re.sub(r"-(zh|en)$", "", doc_id)


def load_corpus(corpus_dir: Path) -> list[Document]:
    """Every document in corpus_dir; raises CorpusError naming each broken file."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist (set T1D_QA_CORPUS_DIR)")
    paths = sorted(p for p in corpus_dir.glob("*.md") if p.name not in NOT_DOCUMENTS)
    if not paths:
        raise CorpusError(f"corpus folder {corpus_dir} has no .md documents")
    docs, errors = [], []
    for path in paths:
        try:
            docs.append(load_document(path))
        except CorpusError as exc:
            errors.append(str(exc))
    seen: dict[str, Path] = {}
    for doc in docs:
        if doc.id in seen:
            errors.append(f"{doc.path}: id {doc.id!r} is already used by {seen[doc.id]}")
        seen[doc.id] = doc.path
    if errors:
        raise CorpusError("broken corpus files:\n  " + "\n  ".join(errors))
    return docs


def load_document(path: Path) -> Document:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    meta, body = parse_front_matter(text, path)
    missing = [key for key in REQUIRED_KEYS if not str(meta.get(key) or "").strip()]
    if missing:
        raise CorpusError(f"{path}: front matter lacks {', '.join(missing)}")
    if meta["lang"] not in LANGS:
        raise CorpusError(f"{path}: lang must be one of {LANGS}, not {meta['lang']!r}")
    if meta["kind"] not in KINDS:
        raise CorpusError(f"{path}: kind must be one of {KINDS}, not {meta['kind']!r}")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", str(meta["id"])):
        raise CorpusError(f"{path}: id {meta['id']!r} must be lower-case letters, digits, . _ -")
    if not body.strip():
        raise CorpusError(f"{path}: the document has no text after its front matter")
    fields = {key: str(meta[key]).strip() for key in REQUIRED_KEYS}
    _check_date(fields["reviewed"], f"{path}: reviewed")
    unknown = sorted(set(meta) - set(REQUIRED_KEYS) - {"time_sensitive"})
    if unknown:
        raise CorpusError(f"{path}: unknown front matter keys {', '.join(unknown)}; see corpus/SOURCES.md")
    dated = _time_sensitive(meta.get("time_sensitive"), body, fields["reviewed"], path)
    return Document(**fields, body=body, path=path, time_sensitive=dated)


def _check_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CorpusError(f"{what} must be a date YYYY-MM-DD, not {value!r}") from None


def _time_sensitive(entries, body: str, reviewed: str, path: Path) -> tuple[TimeSensitive, ...]:
    """The validated `time_sensitive:` list: each entry names one `##` heading by its words."""
    if entries is None:
        return ()
    where = f"{path}: time_sensitive"
    if not isinstance(entries, list):
        raise CorpusError(f"{where} must be a list of {{section, as_of, source}} entries")
    headings = [m.group(1).strip() for m in re.finditer(r"^##\s+(.+?)\s*#*\s*$", body, flags=re.M)]
    out = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) != set(TIME_SENSITIVE_KEYS):
            raise CorpusError(f"{where} entry {i} must have exactly the keys {', '.join(TIME_SENSITIVE_KEYS)}")
        words, as_of, source = (str(entry[key] or "").strip() for key in TIME_SENSITIVE_KEYS)
        if not words or not source:
            raise CorpusError(f"{where} entry {i}: section and source must not be empty")
        if _check_date(as_of, f"{where} entry {i}: as_of") > date.fromisoformat(reviewed):
            raise CorpusError(f"{where} entry {i}: as_of {as_of} is later than the document's reviewed date {reviewed}")
        matches = [h for h in headings if words.lower() in h.lower()]
        if len(matches) != 1:
            found = "no" if not matches else f"{len(matches)}"
            raise CorpusError(f"{where} entry {i}: section {words!r} matches {found} '##' headings; it must match exactly one")
        out.append(TimeSensitive(matches[0], as_of, source))
    return tuple(out)


def stale_claims(docs: list[Document], today: date, max_age_days: int) -> list[str]:
    """Warnings naming file, section and date for time-sensitive sections older than max_age_days
    (0 turns the check off)."""
    warnings = []
    for doc in docs:
        for entry in doc.time_sensitive:
            age = (today - date.fromisoformat(entry.as_of)).days
            if max_age_days and age > max_age_days:
                warnings.append(
                    f"{doc.path}: section '{entry.heading}' is time-sensitive and dated as of {entry.as_of} "
                    f"({age} days ago, more than T1D_QA_STALE_AFTER_DAYS={max_age_days}); re-check it against "
                    f"{entry.source}, then update the text, its as_of and the reviewed date"
                )
    return warnings


def parse_front_matter(text: str, path: Path | str = "<text>") -> tuple[dict, str]:
    text = text.lstrip("\ufeff")
    if not text.startswith("---"):
        raise CorpusError(f"{path}: no front matter; the file must start with a '---' line")
    parts = re.split(r"^---\s*$", text, maxsplit=2, flags=re.M)
    if len(parts) < 3:
        raise CorpusError(f"{path}: front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(parts[1]) or {}
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date like 2026-13-01
        raise CorpusError(f"{path}: front matter is not valid YAML ({exc})") from exc
    if not isinstance(meta, dict):
        raise CorpusError(f"{path}: front matter must be key: value lines")
    return meta, parts[2]


def language_of(text: str) -> str:
    """'zh' when Chinese carries the text, else 'en'.

    Chinese characters are weighed against English *words*, so product names do not turn a
    Chinese question English ("zimislecel（VX-880）FDA批准了吗？"); Chinese end punctuation or a
    question particle at the end also settles it.
    """
    cjk = len(_CJK.findall(text))
    if not cjk:
        return "en"
    words = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if cjk > words or re.search(r"[吗呢吧么？。！]\s*$", text) else "en"


def split_sentences(text: str) -> list[str]:
    """Sentences of Chinese or English prose, verbatim, without empty pieces."""
    pieces = []
    for line in text.splitlines():
        pieces.extend(s.strip() for s in _SENTENCE_END.split(line))
    return [p for p in pieces if p and re.search(r"\w", p)]


def sections(body: str) -> list[tuple[str, str]]:
    """(heading path, text) for each heading-delimited section that has text."""
    out, trail, lines = [], [], []

    def flush():
        text = "\n".join(lines).strip()
        if text:
            out.append((" > ".join(title for _, title in trail), text))
        lines.clear()

    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            trail[:] = [(lvl, title) for lvl, title in trail if lvl < level]
            trail.append((level, match.group(2)))
        else:
            lines.append(line)
    flush()
    return out


def blocks(text: str) -> list[str]:
    """Paragraphs; a table or a list stays one block."""
    out, current, current_kind = [], [], None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            if current_kind == "para":
                out.append("\n".join(current))
                current, current_kind = [], None
            continue
        kind = "table" if stripped.startswith("|") else "list" if _is_list_item(stripped) else "para"
        if kind == "para" and current_kind == "list" and line[:1].isspace():
            kind = "list"  # indented continuation of a list item
        if current and kind != current_kind:
            out.append("\n".join(current))
            current = []
        current.append(stripped if kind != "list" else line.rstrip())
        current_kind = kind
    if current:
        out.append("\n".join(current))
    return [b for b in out if b.strip()]


def _is_list_item(line: str) -> bool:
    return bool(re.match(r"([-*•]|\d+[.)、])\s+", line))


def chunk_document(doc: Document, max_chars: int | None = None) -> list[Chunk]:
    """Chunks of at most about max_chars, cut at sentence ends, each with its section title."""
    limit = max_chars or (260 if doc.lang == "zh" else 700)
    chunks = []
    for section, text in sections(doc.body):
        dated = _dated(doc, section)
        for piece in _pack(blocks(text), limit):
            sentences = tuple(_block_sentences(piece))
            if not sentences:
                continue
            chunks.append(_make_chunk(doc, section or doc.title, piece, sentences, dated))
    return chunks


def _dated(doc: Document, section: str) -> TimeSensitive | None:
    """The time-sensitive entry covering this section (its `##` heading or a sub-heading of it)."""
    path = section.split(" > ")
    return next((entry for entry in doc.time_sensitive if entry.heading in path), None)


def _pack(section_blocks: list[str], limit: int) -> list[str]:
    """Group blocks into pieces of up to limit characters; tables and lists are never split,
    long prose is split at sentence ends."""
    units: list[tuple[str, str]] = []  # (text, separator before it)
    for block in section_blocks:
        if _is_structured(block) or len(block) <= limit:
            units.append((block, "\n\n"))
            continue
        glue = "" if language_of(block) == "zh" else " "
        units.extend((s, "\n\n" if i == 0 else glue) for i, s in enumerate(split_sentences(block)))
    pieces, current = [], ""
    for text, sep in units:
        if current and len(current) + len(sep) + len(text) > limit:
            pieces.append(current)
            current = ""
        current = f"{current}{sep}{text}" if current else text
    if current:
        pieces.append(current)
    return pieces


def _is_structured(block: str) -> bool:
    first = block.lstrip()
    return first.startswith("|") or _is_list_item(first)


def _block_sentences(piece: str) -> list[str]:
    """Sentences of a chunk; a table row or list item counts as one sentence."""
    out = []
    for line in piece.splitlines():
        stripped = line.strip()
        if re.fullmatch(r"\|?[\s:|-]+\|?", stripped or "x"):
            continue  # table rule line
        if stripped.startswith("|") or _is_list_item(stripped):
            out.append(stripped)
        else:
            out.extend(split_sentences(stripped))
    return [s for s in out if s]


def _make_chunk(doc: Document, section: str, text: str, sentences: tuple[str, ...],
                dated: TimeSensitive | None = None) -> Chunk:
    as_of, as_of_source = (dated.as_of, dated.source) if dated else ("", "")
    # The dates are part of the content address, so a re-review reaches the stored metadata.
    digest = hashlib.sha256(f"{section}\n{text}\n{doc.reviewed}\n{as_of}".encode()).hexdigest()[:16]
    return Chunk(
        id=f"{doc.id}:{digest}",
        doc_id=doc.id,
        title=doc.title,
        section=section,
        lang=doc.lang,
        kind=doc.kind,
        source=doc.source,
        text=text,
        sentences=sentences,
        reviewed=doc.reviewed,
        as_of=as_of,
        as_of_source=as_of_source,
    )


def chunk_corpus(docs: list[Document]) -> list[Chunk]:
    chunks, seen = [], set()
    for doc in docs:
        for chunk in chunk_document(doc):
            if chunk.id not in seen:  # an identical passage twice in one section: keep one
                seen.add(chunk.id)
                chunks.append(chunk)
    return chunks


def corpus_fingerprint(chunks: list[Chunk]) -> str:
    return hashlib.sha256("\n".join(sorted(c.id for c in chunks)).encode()).hexdigest()[:16]
