"""Shared fixtures: settings in tmp folders, the real packaged model, a real Chroma index.

Hermetic: indexes and feedback stores go to pytest's tmp folders; the converted model is
cached in <repo>/.t1d_qa/models (or $T1DQA_TEST_MODELS_DIR) so it is built once per machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from t1d_qa.config import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
MODELS = Path(os.environ.get("T1DQA_TEST_MODELS_DIR", ROOT / ".t1d_qa" / "models"))


def make_settings(data_dir: Path, **overrides) -> Settings:
    values = {"corpus_dir": CORPUS, "data_dir": Path(data_dir), "models_dir": MODELS}
    values.update(overrides)
    return Settings.from_env({}, **values)


@pytest.fixture(autouse=True)
def _no_project_env(monkeypatch):
    """Tests never read the developer's T1D_QA_* variables."""
    for key in list(os.environ):
        if key.startswith("T1D_QA_") and key != "T1DQA_TEST_MODELS_DIR":
            monkeypatch.delenv(key)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def embeddings():
    from t1d_qa.embeddings import load_embeddings

    return load_embeddings(make_settings(Path("/nonexistent")))


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("t1d_qa_data"))


@pytest.fixture(scope="session")
def index(session_settings, embeddings):
    """The real corpus in a real embedded Chroma, built once per test session."""
    from t1d_qa.corpus import chunk_corpus, load_corpus
    from t1d_qa.index import Index

    idx = Index(session_settings, embeddings)
    idx.sync(chunk_corpus(load_corpus(session_settings.corpus_dir)))
    return idx


@pytest.fixture(scope="session")
def pipeline(session_settings, index):
    from t1d_qa.answer import Pipeline

    return Pipeline(session_settings, index)


@pytest.fixture(scope="session")
def screener(embeddings):
    """The screen as the pipeline runs it: lexicon, frames, combination scoring and the learned net."""
    from t1d_qa.safety_bank import EmbeddedScreener

    return EmbeddedScreener(embeddings)
