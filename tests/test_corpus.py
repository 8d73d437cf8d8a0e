"""Front matter, loading errors and chunking (Chinese and English sentence boundaries)."""

from __future__ import annotations

from pathlib import Path

import pytest

from t1d_qa.corpus import (
    CorpusError,
    blocks,
    chunk_corpus,
    chunk_document,
    load_corpus,
    load_document,
    split_sentences,
)

DATA = Path(__file__).parent / "data" / "corpus"
ROOT = Path(__file__).resolve().parents[1]


def test_project_corpus_loads_with_required_front_matter():
    docs = load_corpus(ROOT / "corpus")
    ids = {d.id for d in docs}
    assert {"article-zh", "article-en", "safety-zh", "safety-en"} <= ids
    for family in ("yao2022", "wang2024", "reichman2025"):
        assert {f"{family}-zh", f"{family}-en"} <= ids
    for doc in docs:
        assert doc.lang in ("zh", "en") and doc.kind in ("article", "reference", "safety")
        assert doc.source and doc.reviewed and doc.title


def test_reference_cards_cite_primary_papers():
    text = {d.id: d.source + d.body for d in load_corpus(ROOT / "corpus")}
    assert "10.1056/NEJMoa2506549" in text["reichman2025-en"] and "40544428" in text["reichman2025-en"]
    assert "10.1016/j.cell.2024.09.004" in text["wang2024-zh"]
    assert "10.7507/1007-9424.202207011" in text["yao2022-en"]


def test_chinese_sentence_boundaries():
    text = "血糖低于3.0 mmol/L属于2级低血糖。应该怎么办？立即进食！注意；复测。"
    assert split_sentences(text) == ["血糖低于3.0 mmol/L属于2级低血糖。", "应该怎么办？", "立即进食！", "注意；", "复测。"]


def test_english_sentence_boundaries_keep_decimals_and_abbreviations():
    text = "HbA1c fell to 5.7% in one year. Doses were lower, e.g. 7.8 units. Why? Unknown!"
    assert split_sentences(text) == ["HbA1c fell to 5.7% in one year.", "Doses were lower, e.g. 7.8 units.", "Why?", "Unknown!"]


def test_tables_and_lists_stay_whole():
    text = "Intro line.\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n- one\n- two\n"
    assert blocks(text) == ["Intro line.", "| a | b |\n| --- | --- |\n| 1 | 2 |", "- one\n- two"]


def test_chunks_keep_section_titles_and_are_never_empty():
    doc = load_document(DATA / "mini-zh.md")
    chunks = chunk_document(doc)
    assert chunks and all(c.text.strip() and c.sentences for c in chunks)
    sections = {c.section for c in chunks}
    assert "测试文档：胰岛移植 > 研究结果" in sections
    table = next(c for c in chunks if "第36个月" in c.text)
    assert "第12个月" in table.text  # the table was not split
    for c in chunks:
        assert c.id.startswith("mini-zh:")
        for sentence in c.sentences:
            assert sentence in c.text


def test_long_sections_split_at_sentence_ends():
    doc = load_document(DATA / "mini-en.md")
    chunks = chunk_document(doc, max_chars=80)
    assert len(chunks) > 3
    for c in chunks:
        assert c.text.rstrip()[-1] in ".!?" or c.text.lstrip().startswith("-")


def test_chunk_ids_are_stable_and_content_addressed():
    doc = load_document(DATA / "mini-en.md")
    assert [c.id for c in chunk_document(doc)] == [c.id for c in chunk_document(doc)]


def test_whole_corpus_chunks(tmp_path):
    chunks = chunk_corpus(load_corpus(ROOT / "corpus"))
    assert len(chunks) > 100
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(c.text.strip() for c in chunks)


@pytest.mark.parametrize(
    "content, message",
    [
        ("no front matter here", "no front matter"),
        ("---\nid: x1\n", "not closed"),
        ("---\nid: [unclosed\n---\nbody", "not valid YAML"),
        ("---\nid: x1\ntitle: t\nlang: fr\nkind: article\nsource: s\nreviewed: 2026-01-01\n---\n# T\ntext", "lang must be"),
        ("---\nid: x1\ntitle: t\nlang: en\nkind: blog\nsource: s\nreviewed: 2026-01-01\n---\n# T\ntext", "kind must be"),
        ("---\nid: x1\ntitle: t\nlang: en\nkind: article\nreviewed: 2026-01-01\n---\n# T\ntext", "lacks source"),
        ("---\nid: x1\ntitle: t\nlang: en\nkind: article\nsource: s\nreviewed: 2026-01-01\n---\n", "no text"),
    ],
)
def test_broken_files_get_clear_errors(tmp_path, content, message):
    (tmp_path / "bad.md").write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message) as err:
        load_corpus(tmp_path)
    assert "bad.md" in str(err.value)


def test_all_broken_files_are_reported_together(tmp_path):
    (tmp_path / "a.md").write_text("nothing", encoding="utf-8")
    (tmp_path / "b.md").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    assert "a.md" in str(err.value) and "b.md" in str(err.value)


def test_duplicate_ids_are_rejected(tmp_path):
    for name in ("one.md", "two.md"):
        (tmp_path / name).write_text((DATA / "mini-en.md").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(CorpusError, match="already used"):
        load_corpus(tmp_path)


def test_missing_corpus_folder(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
