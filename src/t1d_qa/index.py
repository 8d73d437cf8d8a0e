"""The Chroma index: the one place chromadb is opened (embedded folder or a Chroma server).

Two collections: chunks (through langchain-chroma, so any LangChain code can use them) and
the chunks' sentences with their vectors, computed here at index time so that composing an
answer never embeds a passage. The chunk collection records the embedding model and a corpus
fingerprint; syncing embeds only chunks whose id (document id + content hash) is new.
"""

from __future__ import annotations

import logging
import shutil
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


def open_client(settings: Settings):
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
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)
    except IndexUnavailable:
        raise
    except Exception as exc:
        where = settings.chroma_url or settings.index_dir
        fix = (
            "check that the Chroma server is running"
            if settings.chroma_url
            else "run `t1d-qa index --rebuild` to rebuild it from the corpus"
        )
        raise IndexUnavailable(f"cannot open the Chroma index at {where} ({exc}); {fix}") from exc


class Index:
    """Chunks and sentence vectors in Chroma."""

    def __init__(self, settings: Settings, embeddings, client=None):
        from langchain_chroma import Chroma

        self.settings = settings
        self.embeddings = embeddings
        self.client = client or open_client(settings)
        try:
            self.chunks = Chroma(
                collection_name=settings.collection,
                embedding_function=embeddings,
                client=self.client,
                collection_configuration={"hnsw": {"space": "cosine"}},
            )
            self.sentences = Chroma(
                collection_name=settings.collection + "_sentences",
                embedding_function=embeddings,
                client=self.client,
                collection_configuration={"hnsw": {"space": "cosine"}},
            )
        except Exception as exc:
            raise IndexUnavailable(
                f"cannot open collection {settings.collection!r} ({exc}); "
                "run `t1d-qa index --rebuild` to rebuild it from the corpus"
            ) from exc

    # -- state

    @property
    def metadata(self) -> dict:
        return dict(self.chunks._collection.metadata or {})

    def count(self) -> int:
        return self.chunks._collection.count()

    def is_empty(self) -> bool:
        return self.count() == 0

    def chunk_ids(self) -> set[str]:
        return set(self.chunks.get(include=[])["ids"])

    # -- writing

    def sync(self, chunks: list[Chunk], progress: bool = False) -> SyncReport:
        """Make the index hold exactly these chunks, embedding only the new ones."""
        recorded = self.metadata.get("embedding_model")
        rebuilt, reason = False, ""
        if recorded and recorded != self.embeddings.name:
            rebuilt, reason = True, f"embedding model changed from {recorded} to {self.embeddings.name}"
            self.reset()
        present = self.chunk_ids()
        wanted = {c.id: c for c in chunks}
        stale = sorted(present - wanted.keys())
        new = [c for c in chunks if c.id not in present]
        if stale:
            self.chunks.delete(ids=stale)
            self.sentences._collection.delete(where={"chunk_id": {"$in": stale}})
        self._add(new, progress)
        self.chunks._collection.modify(
            metadata={"embedding_model": self.embeddings.name, "corpus_fingerprint": corpus_fingerprint(chunks)}
        )
        return SyncReport(len(new), len(stale), len(wanted) - len(new), rebuilt, reason)

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

    def reset(self) -> None:
        self.chunks.reset_collection()
        self.sentences.reset_collection()

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

    def all_chunks(self) -> list[tuple[str, str, dict]]:
        data = self.chunks.get(include=["documents", "metadatas"])
        return list(zip(data["ids"], data["documents"], data["metadatas"]))

    def sentence_vectors(self, chunk_ids: list[str]) -> dict[str, list[tuple[str, np.ndarray]]]:
        """For each chunk id, its sentences in order with their index-time vectors."""
        if not chunk_ids:
            return {}
        data = self.sentences._collection.get(
            where={"chunk_id": {"$in": list(chunk_ids)}}, include=["documents", "metadatas", "embeddings"]
        )
        rows: dict[str, list[tuple[int, str, np.ndarray]]] = {}
        for doc, meta, vec in zip(data["documents"], data["metadatas"], data["embeddings"]):
            rows.setdefault(meta["chunk_id"], []).append((meta["position"], doc, np.asarray(vec, np.float32)))
        return {cid: [(s, v) for _, s, v in sorted(items, key=lambda r: r[0])] for cid, items in rows.items()}


def remove_local_index(settings: Settings) -> None:
    """Delete the embedded index folder (derived data: the corpus rebuilds it)."""
    path = Path(settings.index_dir)
    if path.exists():
        shutil.rmtree(path)
