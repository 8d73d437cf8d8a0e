"""The fact table (tests/facts.yaml) against the corpus, in both languages; dated claims and the
stale warning of `t1d-qa index`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from t1d_qa.citations import Citation
from t1d_qa.cli import render_text
from t1d_qa.config import Settings
from t1d_qa.corpus import CorpusError, chunk_document, load_corpus, load_document, sections, stale_claims

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
FACTS = yaml.safe_load((Path(__file__).parent / "facts.yaml").read_text(encoding="utf-8"))
MINI = Path(__file__).parent / "data" / "corpus"

MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
WORDS = dict(zip("two three four five six seven eight nine ten eleven twelve".split(), range(2, 13)))  # "one" is rarely a count
SCALE = {"万": 10_000, "亿": 100_000_000, "million": 1_000_000}


def numbers(text: str) -> list[float]:
    """The distinct numbers a reader would take from a phrase, in one form for both languages
    (6万 = 60,000; 200 million = 2亿; 18 August 2022 = 2022年8月18日; "Two" = 2)."""
    out = set()
    pattern = r"(\d[\d,]*(?:\.\d+)?)\s*(万|亿|million)?|\b(" + "|".join(MONTHS | WORDS) + r")\b"
    for value, scale, word in re.findall(pattern, text, flags=re.I):
        if word:
            out.add(float(MONTHS.get(word.lower()) or WORDS[word.lower()]))
        else:
            out.add(float(value.replace(",", "")) * SCALE.get(scale, 1))
    return sorted(out)


def section_text(path: Path, words: str) -> str:
    """The text under the one `##` heading whose title contains the words (with its sub-sections)."""
    doc = load_document(path)
    headings = [h for h in re.findall(r"^##\s+(.+?)\s*$", doc.body, flags=re.M) if words.lower() in h.lower()]
    assert len(headings) == 1, f"{path.name}: {words!r} matches {len(headings)} '##' headings"
    return "\n".join(text for title, text in sections(doc.body) if headings[0] in title.split(" > "))


@pytest.mark.parametrize("fact", FACTS, ids=[f["id"] for f in FACTS])
def test_fact_is_in_both_twins_with_the_same_numbers(fact):
    assert {"id", "claim", "en", "zh", "source", "checked"} <= set(fact), fact.get("id")
    assert date.fromisoformat(str(fact["checked"])) <= date.today()
    for lang in ("en", "zh"):
        where = fact[lang]
        assert where["file"].endswith(f"-{lang}.md")
        text = section_text(CORPUS / where["file"], where["section"])
        assert where["text"] in text, f"{fact['id']}: {where['file']} § {where['section']!r} lacks {where['text']!r}"
    assert numbers(fact["en"]["text"]) == numbers(fact["zh"]["text"]), fact["id"]


def test_fact_table_covers_every_document_family_and_has_unique_ids():
    ids = [f["id"] for f in FACTS]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
    assert {f["en"]["file"].rsplit("-", 1)[0] for f in FACTS} >= {"reichman2025", "wang2024", "yao2022", "safety"}


def test_number_reader_equates_the_two_languages():
    assert numbers("about 60,000 people") == numbers("约6万名")
    assert numbers("18 August 2022") == numbers("2022年8月18日")
    assert numbers("Two participants died") == numbers("2例死亡")
    assert numbers("10 of 12 (83%)") != numbers("11/12（83%）")


# -- dates: reviewed, as_of, the stale warning


def test_every_document_is_reviewed_and_time_sensitive_sections_are_dated():
    docs = load_corpus(CORPUS)
    for doc in docs:
        date.fromisoformat(doc.reviewed)
    dated = {doc.id for doc in docs if doc.time_sensitive}
    assert {"safety-en", "safety-zh", "reichman2025-en", "reichman2025-zh"} <= dated
    safety = next(d for d in docs if d.id == "safety-en")
    chunks = chunk_document(safety)
    approval = [c for c in chunks if "Approval status" in c.section]
    assert approval and all(c.as_of and c.metadata()["as_of"] == c.as_of for c in approval)
    lab = [c for c in chunks if "Lab terms" in c.section]
    assert lab and all("as_of" not in c.metadata() and c.metadata()["reviewed"] == safety.reviewed for c in lab)


def test_no_stale_warning_on_the_real_corpus_today():
    assert stale_claims(load_corpus(CORPUS), date.today(), Settings().stale_after_days) == []


def test_stale_warning_names_file_section_and_date(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in CORPUS.glob("*.md"):
        shutil.copy(path, corpus)
    path = corpus / "safety-en.md"
    path.write_text(path.read_text(encoding="utf-8").replace("as_of: 2026-11-29", "as_of: 2025-01-15", 1), encoding="utf-8")
    warnings = stale_claims(load_corpus(corpus), date.today(), 180)
    assert len(warnings) == 1
    assert "safety-en.md" in warnings[0] and "Approval status" in warnings[0] and "2025-01-15" in warnings[0]
    assert stale_claims(load_corpus(corpus), date.today(), 0) == []  # 0 turns the check off


@pytest.mark.parametrize("entries, problem", [
    ("time_sensitive: approval", "must be a list"),
    ("time_sensitive:\n  - {section: Results, as_of: 2026-01-01}", "exactly the keys"),
    ("time_sensitive:\n  - {section: Results, as_of: 2026-13-01, source: x}", "not valid YAML"),
    ("time_sensitive:\n  - {section: Results, as_of: soon, source: x}", "as_of must be a date"),
    ("time_sensitive:\n  - {section: Results, as_of: 2026-12-01, source: x}", "later than the document's reviewed date"),
    ("time_sensitive:\n  - {section: No such heading, as_of: 2026-01-01, source: x}", "matches no '##' headings"),
    ("time_sensitive:\n  - {section: '', as_of: 2026-01-01, source: x}", "must not be empty"),
])
def test_malformed_time_sensitive_entries_name_the_file(tmp_path, entries, problem):
    text = (MINI / "mini-en.md").read_text(encoding="utf-8").replace("reviewed: 2026-11-27", f"reviewed: 2026-11-27\n{entries}")
    path = tmp_path / "mini-en.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=re.escape(problem)) as err:
        load_document(path)
    assert "mini-en.md" in str(err.value)


def test_reviewed_must_be_a_date(tmp_path):
    path = tmp_path / "mini-en.md"
    path.write_text((MINI / "mini-en.md").read_text(encoding="utf-8").replace("reviewed: 2026-11-27", "reviewed: last week"))
    with pytest.raises(CorpusError, match="mini-en.md: reviewed must be a date"):
        load_document(path)


def test_index_command_warns_about_stale_sections(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI, corpus)
    path = corpus / "mini-en.md"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "reviewed: 2026-11-27",
        "reviewed: 2026-11-27\ntime_sensitive:\n  - {section: Results, as_of: 2024-03-01, source: the test registry}"),
        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("T1D_QA_")}
    env.update(T1D_QA_CORPUS_DIR=str(corpus), T1D_QA_DATA_DIR=str(tmp_path / "data"),
               T1D_QA_MODELS_DIR=str(Path(os.environ.get("T1DQA_TEST_MODELS_DIR", ROOT / ".t1d_qa" / "models"))))
    cli = [sys.executable, "-m", "t1d_qa.cli", "index"]
    result = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "t1d-qa: warning:" in result.stderr
    assert "mini-en.md" in result.stderr and "Results" in result.stderr and "2024-03-01" in result.stderr
    assert "chunks embedded" in result.stdout  # a warning, not an error: the index is still built


def test_citations_carry_the_dates_and_the_text_answer_shows_them():
    meta = {"doc_id": "safety-en", "title": "Safety", "section": "Approval status", "source": "FDA",
            "reviewed": "2026-11-29", "as_of": "2026-11-29"}
    cited = Citation.from_metadata(1, "safety-en:1", meta, "quote")
    assert cited.to_dict()["reviewed"] == "2026-11-29" and cited.to_dict()["as_of"] == "2026-11-29"
    undated = Citation.from_metadata(2, "safety-en:2", {**meta, "as_of": ""}, "quote")
    assert undated.to_dict()["as_of"] is None

    class Shown:  # the attributes render_text reads
        language, ai_label, answer, disclaimer = "en", "AI-generated", "Text [1] [2]", "Not advice."
        citations = [cited, undated]

    text = render_text(Shown())
    assert "(reviewed 2026-11-29; as of 2026-11-29)" in text and text.count("reviewed 2026-11-29") == 2
    Shown.language = "zh"
    assert "审核日期 2026-11-29；信息截至 2026-11-29" in render_text(Shown())


def test_a_number_changed_in_one_twin_is_caught(tmp_path):
    fact = next(f for f in FACTS if f["id"] == "zim-insulin-free")
    path = tmp_path / fact["en"]["file"]
    path.write_text((CORPUS / fact["en"]["file"]).read_text(encoding="utf-8").replace("10 of 12 full-dose", "11 of 12 full-dose"))
    assert fact["en"]["text"] not in section_text(path, fact["en"]["section"])
    assert fact["zh"]["text"] in section_text(CORPUS / fact["zh"]["file"], fact["zh"]["section"])


# Numbers that legitimately appear in one twin only, with the reason.
ONE_TWIN_NUMBERS = {"wang2024": {100.0}}  # "TIME100" is 《时代》健康百人榜 in Chinese


@pytest.mark.parametrize("family", ["safety", "reichman2025", "wang2024", "yao2022", "article"])
def test_twins_carry_the_same_numbers_throughout(family):
    en = numbers(load_document(CORPUS / f"{family}-en.md").body)
    zh = numbers(load_document(CORPUS / f"{family}-zh.md").body)
    assert set(en) ^ set(zh) <= ONE_TWIN_NUMBERS.get(family, set()), (
        f"{family}: only in en {sorted(set(en) - set(zh))}, only in zh {sorted(set(zh) - set(en))}")
