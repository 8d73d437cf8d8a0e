"""Incremental indexing with the real packaged model, embedded Chroma and a Chroma server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_settings
from t1d_qa.corpus import chunk_corpus, load_corpus
from t1d_qa.index import Index, IndexUnavailable

DATA = Path(__file__).parent / "data" / "corpus"


@pytest.fixture
def mini(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(DATA, corpus)
    return make_settings(tmp_path / "data", corpus_dir=corpus)


def _sync(settings, embeddings):
    return Index(settings, embeddings).sync(chunk_corpus(load_corpus(settings.corpus_dir)))


def test_unchanged_corpus_embeds_nothing(mini, embeddings):
    first = _sync(mini, embeddings)
    assert first.added > 0 and first.deleted == 0
    second = _sync(mini, embeddings)
    assert (second.added, second.deleted, second.kept) == (0, 0, first.added)
    assert "0 chunks embedded" in second.describe()


def test_editing_one_file_reembeds_only_its_changed_chunks(mini, embeddings):
    _sync(mini, embeddings)
    path = mini.corpus_dir / "mini-en.md"
    path.write_text(path.read_text().replace("Two deaths were reported", "2 deaths were reported"))
    report = _sync(mini, embeddings)
    assert (report.added, report.deleted) == (1, 1)
    index = Index(mini, embeddings)
    assert all(not cid.startswith("mini-zh") for cid in index.chunk_ids() - set(_ids_before(mini)))
    texts = [text for _, text, _ in index.all_chunks()]
    assert any("2 deaths were reported" in t for t in texts)
    assert not any("Two deaths were reported" in t for t in texts)


def _ids_before(settings):
    return [c.id for c in chunk_corpus(load_corpus(settings.corpus_dir)) if c.doc_id == "mini-zh"]


def test_deleting_a_file_removes_its_chunks_and_sentences(mini, embeddings):
    _sync(mini, embeddings)
    (mini.corpus_dir / "mini-zh.md").unlink()
    report = _sync(mini, embeddings)
    assert report.added == 0 and report.deleted > 0
    index = Index(mini, embeddings)
    assert all(cid.startswith("mini-en:") for cid in index.chunk_ids())
    assert index.sentence_vectors(["mini-zh:whatever"]) == {}


def test_sentence_vectors_are_stored_at_index_time(mini, embeddings):
    _sync(mini, embeddings)
    index = Index(mini, embeddings)
    chunk = next(c for c in chunk_corpus(load_corpus(mini.corpus_dir)) if len(c.sentences) > 1)
    stored = index.sentence_vectors([chunk.id])[chunk.id]
    assert [s for s, _ in stored] == list(chunk.sentences)
    assert stored[0][1].shape == (embeddings.dimension,)


def test_collection_records_model_and_fingerprint(mini, embeddings):
    _sync(mini, embeddings)
    meta = Index(mini, embeddings).metadata
    assert meta["embedding_model"] == embeddings.name
    assert len(meta["corpus_fingerprint"]) == 16


class _RenamedModel:
    """The real model under another name: what a change of T1D_QA_EMBEDDING_MODEL looks like."""

    def __init__(self, inner):
        self._inner, self.name = inner, "another-model"

    def __getattr__(self, attr):
        return getattr(self._inner, attr)


def test_a_new_embedding_model_rebuilds(mini, embeddings):
    first = _sync(mini, embeddings)
    report = Index(mini, _RenamedModel(embeddings)).sync(chunk_corpus(load_corpus(mini.corpus_dir)))
    assert report.rebuilt and report.added == first.added and "another-model" in report.describe()


def test_corrupt_index_names_the_fix(mini, embeddings):
    _sync(mini, embeddings)
    serving = Index(mini, embeddings).generation
    (mini.index_dir / serving / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexUnavailable, match="--rebuild"):
        Index(mini, embeddings).count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.server
def test_chroma_server_mode(mini, embeddings, tmp_path):
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        settings = make_settings(tmp_path / "client", corpus_dir=mini.corpus_dir, chroma_url=f"http://127.0.0.1:{port}")
        deadline = time.time() + 60
        while True:
            try:
                index = Index(settings, embeddings)
                break
            except IndexUnavailable:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        first = index.sync(chunk_corpus(load_corpus(settings.corpus_dir)))
        assert first.added > 0
        assert Index(settings, embeddings).sync(chunk_corpus(load_corpus(settings.corpus_dir))).added == 0
        hits = index.search(embeddings.embed_query("Did anyone die in the study?"), 3)
        assert any("deaths" in h.text for h in hits)
        assert not settings.index_dir.exists()  # nothing was written locally
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_chunk_without_its_sentences_is_embedded_again(mini, embeddings):
    _sync(mini, embeddings)
    index = Index(mini, embeddings)
    victim = sorted(index.chunk_ids())[0]
    index.sentences._collection.delete(where={"chunk_id": victim})  # what an interrupted write left behind
    report = _sync(mini, embeddings)
    assert report.added == 1 and report.deleted == 0
    assert Index(mini, embeddings).sentence_vectors([victim])[victim]


def test_a_failed_build_leaves_the_index_in_service_and_says_so(mini, embeddings):
    _sync(mini, embeddings)
    before = Index(mini, embeddings)
    chunks = chunk_corpus(load_corpus(mini.corpus_dir))

    class Broken(_RenamedModel):  # the model dies half-way through a rebuild
        def embed_documents(self, texts):
            raise OSError(28, "No space left on device")

    with pytest.raises(IndexUnavailable, match=f"disk .* is full; the index in service \\({before.generation}\\) is untouched") as failure:
        Index(mini, Broken(embeddings)).sync(chunks, rebuild=True)
    after = Index(mini, embeddings)
    assert after.generation == before.generation and after.count() == len(chunks)
    assert "--rebuild" not in str(failure.value)  # never advised on a full disk
    assert sorted(p.name for p in mini.index_dir.iterdir() if p.is_dir()) == [before.generation]
