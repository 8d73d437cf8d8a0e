"""The Chroma index: the one place chromadb is opened (embedded folder or a Chroma server).

Two collections: chunks (through langchain-chroma, so any LangChain code can use them) and
the chunks' sentences with their vectors, computed here at index time so that composing an
answer never embeds a passage. The chunk collection records the embedding model and a corpus
fingerprint; syncing embeds only chunks whose id (document id + content hash) is new.

Generations: the index in service is never written. A sync copies it into a new generation
(a folder under index/, or a pair of collections on a Chroma server), brings that up to date,
checks it (chunk and sentence counts, a test query) and only then moves the pointer to it in one
step (an atomic file rename, or one metadata update on the server). A failed or interrupted build
leaves the pointer where it was; the next build removes its remains. A running server polls the
pointer and reopens (see answer.Pipeline.reloaded). One lock file stops two builds at once.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from langchain_core.documents import Document as LCDocument

from .config import Settings
from .corpus import Chunk, corpus_fingerprint

log = logging.getLogger(__name__)
BATCH = 32


class IndexUnavailable(RuntimeError):
    """The index cannot be opened or written; the message names the fix."""


class IndexBusy(IndexUnavailable):
    """Another build holds the lock on this store."""


@dataclass(frozen=True)
class SyncReport:
    added: int
    deleted: int
    kept: int
    rebuilt: bool
    reason: str = ""

    def describe(self) -> str:
        if self.rebuilt:
            head = f"rebuilt the index ({self.reason}): "
        elif not self.added and not self.deleted:
            head = "index is up to date: "
        else:
            head = "updated the index: "
        return f"{head}{self.added} chunks embedded, {self.deleted} deleted, {self.kept} unchanged"


@dataclass(frozen=True)
class Hit:
    """One chunk found by a search, with its cosine similarity to the query."""

    chunk_id: str
    text: str
    metadata: dict
    similarity: float


def open_client(settings: Settings, generation: str | None = None):
    """A Chroma client: the server at T1D_QA_CHROMA_URL, or the embedded folder of one generation."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if not url.hostname:
                raise IndexUnavailable(f"T1D_QA_CHROMA_URL={settings.chroma_url!r} is not a URL like http://host:8000")
            return chromadb.HttpClient(
                host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https", settings=chroma_settings
            )
        path = settings.index_dir / generation if generation else settings.index_dir
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except IndexUnavailable:
        raise
    except Exception as exc:
        raise IndexUnavailable(open_failure(settings, exc)) from exc


def open_failure(settings: Settings, exc: BaseException) -> str:
    """What went wrong opening the store, and the fix; never `--rebuild` when the disk is full."""
    where = settings.chroma_url or settings.index_dir
    if disk_full(exc):
        return f"the disk holding {settings.data_dir} is full ({exc}); free some space, then run `t1d-qa index`"
    if settings.chroma_url:
        return f"cannot reach the Chroma server at {where} ({exc}); check that it is running"
    return f"cannot open the Chroma index at {where} ({exc}); run `t1d-qa index --rebuild` to rebuild it from the corpus"


def disk_full(exc: BaseException) -> bool:
    text = str(exc).lower()
    return (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or "disk is full" in text \
        or "no space left" in text


class Generations:
    """Where each generation lives and which one is in service, for either kind of store."""

    POINTER = "CURRENT"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.server = bool(settings.chroma_url)
        self._client = open_client(settings) if self.server else None

    # -- naming: g<nanoseconds>, so names sort by age and are never reused

    @staticmethod
    def new_name() -> str:
        return f"g{time.time_ns()}"

    def collections(self, generation: str) -> tuple[str, str]:
        base = f"{self.settings.collection}_{generation}" if self.server else self.settings.collection
        return base, base + "_sentences"

    def client(self, generation: str):
        return self._client if self.server else open_client(self.settings, generation)

    # -- the pointer

    def current(self) -> str | None:
        """The generation in service, or None before the first build."""
        try:
            if self.server:
                pointer = self._client.get_or_create_collection(self._pointer_name())
                return (pointer.metadata or {}).get("generation")
            path = self.settings.index_dir / self.POINTER
            name = path.read_text().strip() if path.exists() else ""
            return name if name and (self.settings.index_dir / name).is_dir() else None
        except Exception as exc:
            raise IndexUnavailable(open_failure(self.settings, exc)) from exc

    def switch(self, generation: str) -> None:
        """Put this generation in service, in one step."""
        if self.server:
            self._client.get_or_create_collection(self._pointer_name()).modify(metadata={"generation": generation})
            return
        tmp = self.settings.index_dir / f".{self.POINTER}.{os.getpid()}"
        tmp.write_text(generation + "\n")
        with open(tmp) as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.settings.index_dir / self.POINTER)

    def _pointer_name(self) -> str:
        return f"{self.settings.collection}_current"

    # -- listing and removing

    def names(self) -> list[str]:
        if self.server:
            prefix = self.settings.collection + "_g"
            found = {c.name[len(self.settings.collection) + 1 :].removesuffix("_sentences")
                     for c in self._client.list_collections() if c.name.startswith(prefix)}
            return sorted(found)
        root = self.settings.index_dir
        return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("g")) if root.is_dir() else []

    def drop(self, generation: str) -> None:
        if self.server:
            for name in self.collections(generation):
                with suppress(Exception):  # already gone
                    self._client.delete_collection(name)
            return
        _release_embedded(self.settings.index_dir / generation)
        shutil.rmtree(self.settings.index_dir / generation, ignore_errors=True)

    def clean(self, keep: int = 2) -> list[str]:
        """Remove every generation but the one in service and the one before it (still read by
        servers that have not reloaded yet), including the remains of failed builds."""
        current = self.current()
        names = self.names()
        older = [n for n in names if current and n < current]
        keep_names = {current, *older[-(keep - 1):]} if keep > 1 else {current}
        dropped = [n for n in names if n not in keep_names]
        for name in dropped:
            self.drop(name)
        if current and not self.server:
            _remove_legacy(self.settings.index_dir)
        return dropped


def _release_embedded(path: Path) -> None:
    """Forget this process's cached Chroma system for a folder about to be deleted."""
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is not None:
        with suppress(Exception):  # best effort on a folder we are deleting
            system.stop()


def _remove_legacy(root: Path) -> None:
    """The single-folder layout of earlier versions (chroma.sqlite3 directly under index/)."""
    legacy = root / "chroma.sqlite3"
    if legacy.exists():
        legacy.unlink()
        for path in root.iterdir():
            if path.is_dir() and len(path.name) == 36 and path.name.count("-") == 4:  # a segment folder
                shutil.rmtree(path, ignore_errors=True)


@contextmanager
def build_lock(settings: Settings):
    """One build at a time per data folder; the second one is told who holds it."""
    path = settings.data_dir / "index.lock"
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115
    except OSError as exc:
        raise IndexUnavailable(f"cannot write the lock file {path} ({exc})"
                               + ("; free some space, then run `t1d-qa index` again" if disk_full(exc) else "")) from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise IndexBusy(f"another `t1d-qa index` ({holder}) is building this index; "
                            "wait for it to finish, then run the command again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%H:%M:%S')}")
        handle.flush()
        yield
    finally:
        handle.close()


class Index:
    """Chunks and sentence vectors in Chroma: one generation, the one in service unless named."""

    def __init__(self, settings: Settings, embeddings, generation: str | None = None):
        self.settings = settings
        self.embeddings = embeddings
        self.generations = Generations(settings)
        self.generation = generation or self.generations.current()
        self.chunks = self.sentences = None
        if self.generation:
            self._open(self.generation)

    def _open(self, generation: str) -> None:
        from langchain_chroma import Chroma

        client = self.generations.client(generation)
        try:
            self.chunks, self.sentences = (
                Chroma(collection_name=name, embedding_function=self.embeddings, client=client,
                       collection_configuration={"hnsw": {"space": "cosine"}})
                for name in self.generations.collections(generation)
            )
        except Exception as exc:
            raise IndexUnavailable(open_failure(self.settings, exc)) from exc
        self.client, self.generation = client, generation

    def in_service(self) -> str | None:
        """The generation the store now serves (may be newer than this object's)."""
        return self.generations.current()

    def reopened(self, generation: str) -> Index:
        return Index(self.settings, self.embeddings, generation=generation)

    # -- state

    @property
    def metadata(self) -> dict:
        return dict(self.chunks._collection.metadata or {}) if self.chunks else {}

    def count(self) -> int:
        return self.chunks._collection.count() if self.chunks else 0

    def sentence_count(self) -> int:
        return self.sentences._collection.count() if self.sentences else 0

    def is_empty(self) -> bool:
        return self.count() == 0

    def chunk_ids(self) -> set[str]:
        return set(self.chunks.get(include=[])["ids"]) if self.chunks else set()

    # -- writing: always into a new generation, switched to when checked

    def sync(self, chunks: list[Chunk], progress: bool = False, rebuild: bool = False) -> SyncReport:
        """Make the index in service hold exactly these chunks, embedding only the new ones.

        The work happens in a new generation; this object points at it when it is in service."""
        with build_lock(self.settings):
            serving = self.generations.current()
            self.generations.clean()  # the remains of builds that died
            new = self.generations.new_name()
            try:
                report = self._build(new, serving, chunks, progress, rebuild)
                self.generations.switch(new)
            except BaseException as exc:
                self.generations.drop(new)
                raise IndexUnavailable(build_failure(self.settings, exc, serving)) from exc
            self.generations.clean()
        self._open(new)
        return report

    def _build(self, new: str, serving: str | None, chunks: list[Chunk], progress: bool, rebuild: bool) -> SyncReport:
        source = Index(self.settings, self.embeddings, generation=serving) if serving else None
        target = Index(self.settings, self.embeddings, generation=new)
        reason = "--rebuild" if rebuild else ""
        recorded = source.metadata.get("embedding_model") if source else None
        if recorded and recorded != self.embeddings.name:
            reason = f"embedding model changed from {recorded} to {self.embeddings.name}"
        if source and not reason:
            target._copy_from(source)
        report = target._update(chunks, progress, bool(reason), reason)
        target.verify(chunks)
        return report

    def _copy_from(self, source: Index) -> None:
        """Start from the generation in service: its vectors are copied, never recomputed."""
        for mine, theirs in ((self.chunks, source.chunks), (self.sentences, source.sentences)):
            data = theirs._collection.get(include=["documents", "metadatas", "embeddings"])
            for i in range(0, len(data["ids"]), 1000):
                mine._collection.add(
                    ids=data["ids"][i : i + 1000], documents=data["documents"][i : i + 1000],
                    metadatas=data["metadatas"][i : i + 1000], embeddings=data["embeddings"][i : i + 1000],
                )

    def _update(self, chunks: list[Chunk], progress: bool, rebuilt: bool, reason: str) -> SyncReport:
        present = self.chunk_ids()
        wanted = {c.id: c for c in chunks}
        counts: dict[str, int] = {}
        for meta in self.sentences._collection.get(include=["metadatas"])["metadatas"]:
            counts[meta["chunk_id"]] = counts.get(meta["chunk_id"], 0) + 1
        # A chunk whose sentences are missing (an interrupted write) is embedded again.
        broken = {cid for cid in present & wanted.keys() if counts.get(cid, 0) != len(wanted[cid].sentences)}
        stale = sorted((present - wanted.keys()) | broken)
        new = [c for c in chunks if c.id not in present or c.id in broken]
        if stale:
            self.chunks.delete(ids=stale)
            self.sentences._collection.delete(where={"chunk_id": {"$in": stale}})
        self._add(new, progress)
        self.chunks._collection.modify(
            metadata={"embedding_model": self.embeddings.name, "corpus_fingerprint": corpus_fingerprint(chunks)}
        )
        return SyncReport(len(new), len(present - wanted.keys()), len(wanted) - len(new), rebuilt, reason)

    def verify(self, chunks: list[Chunk]) -> None:
        """Complete and searchable: every chunk and sentence is there, and a chunk's own text finds it."""
        want_sentences = sum(len(c.sentences) for c in chunks)
        got = (self.count(), self.sentence_count())
        if got != (len(chunks), want_sentences):
            raise IndexUnavailable(f"the new generation holds {got[0]} chunks and {got[1]} sentences; "
                                   f"expected {len(chunks)} and {want_sentences}")
        if not chunks:
            return
        probe = chunks[len(chunks) // 2]
        hits = self.search(self.embeddings.embed_documents([probe.text])[0], 10)
        # found itself, or (near-duplicate passages; approximate search) a stored vector equal to its own
        if probe.id not in {h.chunk_id for h in hits} and not (hits and hits[0].similarity >= 0.99):
            raise IndexUnavailable(f"the new generation failed its test query (chunk {probe.id} not found by its own text)")

    def _add(self, chunks: list[Chunk], progress: bool) -> None:
        if not chunks:
            return
        from tqdm import tqdm

        batches = [chunks[i : i + BATCH] for i in range(0, len(chunks), BATCH)]
        bar = tqdm(total=len(chunks), unit="chunk", desc="embedding", disable=not progress or len(chunks) < 64)
        for batch in batches:
            docs = [LCDocument(page_content=c.text, metadata=c.metadata()) for c in batch]
            self.chunks.add_documents(docs, ids=[c.id for c in batch])
            sentences = [(c, i, s) for c in batch for i, s in enumerate(c.sentences)]
            self.sentences.add_texts(
                [s for _, _, s in sentences],
                metadatas=[{"chunk_id": c.id, "position": i, "lang": c.lang} for c, i, _ in sentences],
                ids=[f"{c.id}#{i}" for c, i, _ in sentences],
            )
            bar.update(len(batch))
        bar.close()

    # -- reading

    def search(self, query_vector: list[float], k: int, where: dict | None = None) -> list[Hit]:
        """The k chunks nearest the query vector (cosine), optionally filtered by metadata."""
        n = min(k, self.count())
        if n <= 0:
            return []
        result = self.chunks._collection.query(
            query_embeddings=[query_vector], n_results=n, where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            Hit(cid, doc, meta, 1.0 - dist)
            for cid, doc, meta, dist in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0]
            )
        ]

    def probe(self) -> bool:
        """One real query against the store: a stored chunk vector finds a chunk."""
        if not self.chunks:
            return False
        data = self.chunks._collection.get(limit=1, include=["embeddings"])
        return len(data["ids"]) > 0 and bool(self.search(list(data["embeddings"][0]), 1))

    def all_chunks(self) -> list[tuple[str, str, dict]]:
        if not self.chunks:
            return []
        data = self.chunks.get(include=["documents", "metadatas"])
        return list(zip(data["ids"], data["documents"], data["metadatas"]))

    def sentence_vectors(self, chunk_ids: list[str]) -> dict[str, list[tuple[str, np.ndarray]]]:
        """For each chunk id, its sentences in order with their index-time vectors."""
        if not chunk_ids or not self.sentences:
            return {}
        data = self.sentences._collection.get(
            where={"chunk_id": {"$in": list(chunk_ids)}}, include=["documents", "metadatas", "embeddings"]
        )
        rows: dict[str, list[tuple[int, str, np.ndarray]]] = {}
        for doc, meta, vec in zip(data["documents"], data["metadatas"], data["embeddings"]):
            rows.setdefault(meta["chunk_id"], []).append((meta["position"], doc, np.asarray(vec, np.float32)))
        return {cid: [(s, v) for _, s, v in sorted(items, key=lambda r: r[0])] for cid, items in rows.items()}


def build_failure(settings: Settings, exc: BaseException, serving: str | None) -> str:
    """Why a build stopped, that the index in service is untouched, and what to do."""
    kept = f"the index in service ({serving}) is untouched" if serving else "no index was put in service"
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return f"the build was interrupted; {kept}"
    if disk_full(exc):
        return f"the disk holding {settings.data_dir} is full; {kept}; free some space, then run `t1d-qa index` again"
    detail = str(exc) if isinstance(exc, IndexUnavailable) else f"{type(exc).__name__}: {exc}"
    return f"building a new index generation failed ({detail}); {kept}"
