"""The command line and its JSON contract, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MODELS

CLI = [sys.executable, "-m", "t1d_qa.cli"]
DATA = Path(__file__).parent / "data" / "corpus"
KEYS = {"id", "question", "language", "kind", "answer", "citations", "disclaimer", "ai_label", "latency_ms"}
CITATION_KEYS = {"n", "chunk_id", "doc_id", "title", "source", "quote"}


def run(args, data_dir, corpus=None, stdin=None, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("T1D_QA_")}
    env.update(T1D_QA_DATA_DIR=str(data_dir), T1D_QA_MODELS_DIR=str(MODELS), **(extra_env or {}))
    if corpus:
        env["T1D_QA_CORPUS_DIR"] = str(corpus)
    else:
        env["T1D_QA_CORPUS_DIR"] = str(Path(__file__).resolve().parents[1] / "corpus")
    return subprocess.run(CLI + args, input=stdin, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def built(session_settings, index):
    """The session's index folder, already built by the index fixture."""
    return session_settings.data_dir


def _chunks(index):
    return {cid: text for cid, text, _ in index.all_chunks()}


@pytest.mark.parametrize(
    "question, lang",
    [("我做了干细胞治疗以后能停用胰岛素吗？", "zh"), ("Can I stop insulin after stem cell therapy?", "en")],
)
def test_ask_json_contract(built, index, question, lang):
    result = run(["ask", "--json", question], built)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= KEYS
    assert answer["kind"] == "answer" and answer["language"] == lang
    assert len(answer["citations"]) >= 2 and answer["disclaimer"] and answer["ai_label"]
    chunks = _chunks(index)
    for c in answer["citations"]:
        assert set(c) >= CITATION_KEYS
        assert c["quote"] in chunks[c["chunk_id"]]
        assert f"[{c['n']}]" in answer["answer"]
    assert isinstance(answer["latency_ms"], int)


def test_jsonl_batch_keeps_order_and_ids(built):
    lines = [
        "What is C-peptide?",
        json.dumps({"id": "q2", "question": "zimislecel试验中有人死亡吗？"}),
        "",
        "{not json",
        json.dumps({"id": 7, "question": "What is the weather in Beijing?"}),
    ]
    result = run(["ask", "--jsonl", "-"], built, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["answer", "answer", "invalid", "invalid", "out_of_scope"]
    assert [r["id"] for r in rows] == [None, "q2", None, "line-4", 7]
    assert all(r["disclaimer"] and r["ai_label"] for r in rows)


def test_empty_question_is_invalid_with_nonzero_exit(built):
    result = run(["ask", "--json", "   "], built)
    assert result.returncode == 2
    answer = json.loads(result.stdout)
    assert answer["kind"] == "invalid" and answer["disclaimer"]


def test_text_output_lists_sources(built):
    result = run(["ask", "Where were the CiPSC islets transplanted?"], built)
    assert result.returncode == 0, result.stderr
    assert "Sources:" in result.stdout and "[1]" in result.stdout and "AI-generated" in result.stdout


def test_missing_index_is_built_on_first_use_then_reused(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(DATA, corpus)
    first = run(["ask", "--json", "Did anyone die in the study?"], tmp_path / "data", corpus)
    assert first.returncode == 0, first.stderr
    assert "building it now" in first.stderr
    again = run(["index"], tmp_path / "data", corpus)
    assert again.returncode == 0 and "0 chunks embedded" in again.stdout


def test_broken_corpus_file_is_named_and_the_index_kept(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(DATA, corpus)
    assert run(["index"], tmp_path / "data", corpus).returncode == 0
    (corpus / "broken.md").write_text("no front matter", encoding="utf-8")
    result = run(["index"], tmp_path / "data", corpus)
    assert result.returncode == 1 and "broken.md" in result.stderr and "front matter" in result.stderr
    (corpus / "broken.md").unlink()
    assert "0 chunks embedded" in run(["index"], tmp_path / "data", corpus).stdout


def test_missing_model_folder_names_the_fix(tmp_path):
    result = run(["ask", "hi"], tmp_path, extra_env={"T1D_QA_EMBEDDING_MODEL": str(tmp_path / "no-model")})
    assert result.returncode == 1 and "T1D_QA_EMBEDDING_MODEL" in result.stderr


def test_unknown_setting_is_an_error(tmp_path):
    result = run(["index"], tmp_path, extra_env={"T1D_QA_TOPK": "3"})
    assert result.returncode == 1 and "unknown setting T1D_QA_TOPK" in result.stderr


def test_help_lists_commands(tmp_path):
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("index", "ask", "chat", "eval", "serve"):
        assert command in result.stdout
