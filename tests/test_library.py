"""The reviewed answer library: validation and verification against the real corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from t1d_qa import library
from t1d_qa.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

GOOD = {
    "id": "zimislecel-results",
    "entities": ["zimislecel"],
    "aspect": "results",
    "question": "What did the zimislecel (VX-880) trial find?",
    "paraphrases": [
        "did the vertex stem cell trial actually work",
        "vx880 results",
        "what happened to the people in the vertex trial",
        "my son has t1d, did the vertex cells help anyone",
        "how well did zimislecel work",
        "zimislecel outcome please",
    ],
    "answer": [
        {"text": "10 of the 12 people who got the full dose no longer needed insulin injections after one year.",
         "cite": "reichman2025-en § results"},
        {"text": "It was a small trial, and everyone had to take anti-rejection drugs.",
         "cite": "reichman2025-en § limitations"},
    ],
}


def write_library(tmp_path: Path, entries: list[dict], lang: str = "en") -> Path:
    """A copy of the real corpus documents with the given entries as its only library file."""
    corpus = tmp_path / "corpus"
    if not corpus.exists():
        shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("answers"))
    (corpus / "answers").mkdir(exist_ok=True)
    data = {"lang": lang, "kind": "answer", "reviewed": "2026-11-29", "reviewer": "test", "entries": entries}
    (corpus / "answers" / f"{lang}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return corpus


def entry(**changes) -> dict:
    out = yaml.safe_load(yaml.safe_dump(GOOD))
    out.update(changes)
    return out


def test_the_projects_library_verifies():
    """Every entry of corpus/answers/*.yaml passes the same check as `t1d-qa index`."""
    assert library.check(CORPUS) == []


def test_a_good_entry_loads_with_its_resolved_sections(tmp_path):
    lib = library.load_library(write_library(tmp_path, [entry()]))
    e = lib.get("zimislecel-results", "en")
    assert e.entities == ("zimislecel",) and e.aspect == "results" and len(e.paraphrases) == 6
    assert [s.doc_id for s in e.answer] == ["reichman2025-en", "reichman2025-en"]
    assert "results" in e.answer[0].heading.lower() and "limitations" in e.answer[1].heading.lower()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"answer": [{"text": "13 of the 12 people no longer needed insulin.", "cite": "reichman2025-en § results"},
                     GOOD["answer"][1]]}, "13 not in reichman2025-en"),
        ({"answer": [{"text": "About 97% reached the target.", "cite": "reichman2025-en § results"},
                     GOOD["answer"][1]]}, "97 not in"),
        ({"answer": [{"text": "It works in most people.", "cite": "reichman2025-en § trial"}, GOOD["answer"][1]]},
         "headings of reichman2025-en contain 'trial'"),
        ({"answer": [{"text": "It works in most people.", "cite": "reichman2025-en § no such heading"},
                      GOOD["answer"][1]]}, "no `##` headings"),
        ({"answer": [{"text": "It works in most people.", "cite": "nosuchdoc-en § results"}, GOOD["answer"][1]]},
         "no corpus document has id 'nosuchdoc-en'"),
        ({"answer": [{"text": "It works.", "cite": "reichman2025-zh § 主要结果"}, GOOD["answer"][1]]},
         "cite the document in en"),
        ({"answer": [{"text": "Zimislecel is a permanent cure for diabetes.", "cite": "reichman2025-en § results"},
                     GOOD["answer"][1]]}, "the safety check blocks it (promotional claim)"),
        ({"answer": [{"text": "Editor's note: the paper says little (see doi: 10.1056/x).",
                      "cite": "reichman2025-en § results"}, GOOD["answer"][1]]}, "internal wording"),
        ({"answer": [{"text": "The trial (phase 1/2 had 12 people.", "cite": "reichman2025-en § results"},
                     GOOD["answer"][1]]}, "unbalanced brackets"),
        ({"answer": GOOD["answer"][:1]}, "1 answer sentences; 2-6 needed"),
        ({"paraphrases": GOOD["paraphrases"][:5]}, "5 distinct paraphrases; at least 6"),
        ({"paraphrases": GOOD["paraphrases"][:5] + ["维泰克斯的试验效果如何"]}, "not in the file's language"),
        ({"entities": ["vertex"]}, "unknown entities ['vertex']"),
        ({"aspect": "price"}, "unknown aspect 'price'"),
        ({"aspect": None}, "lacks aspect"),
        ({"focus_absent": True}, "focus_absent entries start by saying the sources do not give it"),
        ({"focus_absent": "yes"}, "focus_absent must be true or false"),
    ],
)
def test_a_broken_entry_is_named_with_file_entry_and_sentence(tmp_path, changes, expected):
    corpus = write_library(tmp_path, [entry(**changes)])
    problems = library.check(corpus)
    assert any(expected in p for p in problems), problems
    assert all("en.yaml: entry zimislecel-results" in p for p in problems), problems
    with pytest.raises(library.LibraryError, match="problem"):
        library.load_library(corpus)


def test_twins_must_exist_and_agree(tmp_path):
    corpus = write_library(tmp_path, [entry()])
    zh = entry(question="zimislecel试验结果如何？", paraphrases=[
        "福泰的干细胞试验有效果吗", "vx880效果怎么样", "维泰克斯试验的人后来怎么样了", "我儿子是1型，vertex细胞对谁有用吗",
        "zimislecel疗效如何", "这个试验结果好不好"], aspect="risks", answer=[
        {"text": "接受全剂量的12人中，有10人一年后不再需要注射胰岛素。", "cite": "reichman2025-zh § 主要结果"},
        {"text": "这项试验规模很小，而且所有人都要服用抗排斥药。", "cite": "reichman2025-zh § 局限性"}])
    other = dict(zh, id="other-entry", aspect="results", paraphrases=[p + "呢" for p in zh["paraphrases"]],
                 question="zimislecel试验发现了什么？")
    write_library(tmp_path, [zh, other], lang="zh")
    problems = library.check(corpus)
    assert any("zimislecel-results: entities/aspect/focus_absent differ" in p for p in problems), problems
    assert any("other-entry has no twin in the en library" in p for p in problems), problems


def test_the_same_paraphrase_in_two_entries_is_an_error(tmp_path):
    other = entry(id="zimislecel-risks", aspect="risks")
    problems = library.check(write_library(tmp_path, [entry(), other]))
    assert any("is also in entry zimislecel-results" in p for p in problems), problems


def test_index_stops_on_a_broken_library_and_keeps_the_old_index(tmp_path, monkeypatch, capsys):
    corpus = write_library(tmp_path, [entry(answer=[{"text": "13 of 12 people were helped.",
                                                     "cite": "reichman2025-en § results"}, GOOD["answer"][1]])])
    monkeypatch.setenv("T1D_QA_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("T1D_QA_DATA_DIR", str(tmp_path / "data"))
    assert main(["index"]) == 1
    err = capsys.readouterr().err
    assert "en.yaml: entry zimislecel-results, sentence 1" in err and "13 not in" in err
    assert not (tmp_path / "data" / "index").exists()  # stopped before opening (or touching) the index


def test_check_command_prints_problems_and_fails(tmp_path, capsys):
    corpus = write_library(tmp_path, [entry(aspect="price")])
    assert library.main(["check", str(corpus)]) == 1
    assert "unknown aspect 'price'" in capsys.readouterr().out
    good = write_library(tmp_path / "good", [entry()])
    assert library.main(["check", str(good)]) == 0
    assert "1 entries" in capsys.readouterr().out


def test_asked_questions_load_and_a_bad_one_is_named(tmp_path):
    corpus = write_library(tmp_path, [entry()])
    (corpus / "answers" / "asked").mkdir()
    (corpus / "answers" / "asked" / "en-x.yaml").write_text(yaml.safe_dump({"lang": "en", "questions": [
        {"id": "zimislecel-results", "text": "so did the vertex cells work or not"},
        {"id": "zimislecel-price", "text": "how much is vx880"},
        {"id": "none", "text": "does the trial pay for my hotel"},
        {"id": "zimislecel-results"},
    ]}), encoding="utf-8")
    problems = library.check(corpus)
    assert len(problems) == 2, problems
    assert "en-x.yaml: question 2 names 'zimislecel-price'" in problems[0]
    assert "en-x.yaml: question 4 has no text" in problems[1]
    lib = library.load_library(corpus, strict=False)
    assert [(q.entry_id, q.text) for q in lib.asked] == [("zimislecel-results", "so did the vertex cells work or not"),
                                                         ("none", "does the trial pay for my hotel")]
    from t1d_qa.compose.matcher import training_texts

    texts = [t for t, _ in training_texts(lib, held_out=False)]
    assert "so did the vertex cells work or not" in texts  # trained on, with its entry
    assert "does the trial pay for my hotel" not in texts  # no entry answers it: not a training example


def test_an_asked_file_that_is_not_a_mapping_is_an_error(tmp_path):
    corpus = write_library(tmp_path, [entry()])
    (corpus / "answers" / "asked").mkdir()
    (corpus / "answers" / "asked" / "en.yaml").write_text("- just a list\n", encoding="utf-8")
    assert any("must be a mapping with lang" in p for p in library.check(corpus))
    with pytest.raises(library.LibraryError):
        library.load_library(corpus)


def test_unclean_finds_what_a_patient_should_not_read():
    assert library.unclean("10 of 12 people stopped insulin [1].") == []
    assert library.unclean("（来源：Reichman等，N Engl J Med 2025；[1]")  # unclosed bracket
    assert library.unclean("See https://example.org for more.")
    assert library.unclean("编者注：原文如此。")
    assert library.numbers_in("１２ people, 7.8 mmol/L, 1,000 cells, 83%") == {"12", "7.8", "1000", "83"}


def test_a_cite_phrase_beats_scattered_words():
    """'trial: immunosuppression' is one heading as a phrase, though both words occur in another."""
    docs = {d.id: d for d in library.load_corpus(CORPUS)}
    _, heading, text = library.resolve_cite("reichman2025-en § trial: immunosuppression", docs)
    assert heading.lower().endswith("trial: immunosuppression") and text.strip()
    with pytest.raises(ValueError, match="exactly one"):
        library.resolve_cite("reichman2025-en § immunosuppression", docs)


# -- matching a question to an entry (compose/matcher.py)

MODELS = ROOT / ".t1d_qa" / "models"
# Measured with benchmarks/intent.py on the library of 2026-11-30 (224 entries, 342 held-out
# paraphrases, trained with the asked questions): precision 0.984, recall 0.541 at MIN_CONFIDENCE 0.55
# (issue 10's gate: precision >= 0.98; README, "Answers").
PRECISION_FLOOR = 0.98
RECALL_FLOOR = 0.48


@pytest.fixture(scope="module")
def lexicon():
    from t1d_qa.compose.matcher import Lexicon

    return Lexicon.load()


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("VX880 tumors?", {"zimislecel"}),
        ("is vx 880 safe", {"zimislecel"}),
        ("how does zimislecil work", {"zimislecel"}),  # one typo
        ("CiPSC那個研究是哪家醫院做的", {"cipsc"}),  # traditional characters
        ("臍帶血幹細胞能治糖尿病嗎", {"msc"}),
        ("compare lantidra and the vertex cells", {"lantidra", "zimislecel"}),
        ("can stem cells cure type 1 diabetes", set()),
        ("I love vortexes", set()),  # 'vortexes' is not 'vertex' with one typo
        ("could i have been in the sichaun study", {"sichuan"}),  # two letters swapped: one typo
        ("difference between the two chinese studies", {"cipsc", "sichuan"}),
        ("朋友说是用去世捐献者的胰岛", {"lantidra"}),  # donor islets; "去世" here is no death
    ],
)
def test_entities_are_found_in_both_languages_with_typos(lexicon, text, entities):
    from t1d_qa.compose.matcher import normalize

    assert lexicon.entities_in(normalize(text)) == entities


@pytest.mark.parametrize(
    ("text", "named", "described"),
    [
        ("what did the chinese study find", set(), [{"cipsc", "sichuan"}]),
        ("我也担心中国的研究", set(), [{"cipsc", "sichuan"}]),
        ("the chinese study in tianjin", {"cipsc"}, []),  # named outright: no second reading
        ("the two chinese studies", {"cipsc", "sichuan"}, []),
    ],
)
def test_a_description_that_fits_several_studies_is_kept_apart_from_names(lexicon, text, named, described):
    from t1d_qa.compose.matcher import normalize

    norm = normalize(text)
    assert lexicon.entities_in(norm) == named
    assert [set(d) for d in lexicon.ambiguous_in(norm)] == described


@pytest.fixture(scope="module")
def trained(embeddings):
    from t1d_qa.compose import matcher

    lib = library.load_library(CORPUS, strict=False)
    encode = matcher.cached_encoder(embeddings, MODELS / "library" / "question-vectors.npz")
    return matcher.Matcher.load_or_train(lib, encode, MODELS / "library"), embeddings


def test_the_asking_clause_decides_what_a_long_message_is_about(trained):
    m, embeddings = trained
    # the study named last before the question, not the one named first (nor both)
    question = ("My neighbour told me about the woman in the Tianjin study, and now I am reading about "
                "Vertex. Did anyone die in that trial?")
    got = m.match(question, "en", embeddings.embed_query(question), embeddings.embed_query)
    assert [x.entry.id for x in got] == ["zimislecel-deaths"], got


def test_a_near_tie_between_two_entries_abstains(trained):
    from t1d_qa.compose.matcher import About

    m, _ = trained
    about = About(frozenset({"zimislecel"}))
    clear = ({"results": 0.9, "risks": 0.1}, {"zimislecel-results": 1.0})
    tie = ({"results": 0.5, "risks": 0.45}, {"zimislecel-results": 0.5, "zimislecel-risks": 0.5})
    assert [x.entry.id for x in m._choose(clear, about, "en", "q")] == ["zimislecel-results"]
    assert m._choose(tie, about, "en", "q") == []  # 0.05 apart: the extractive composer answers


def test_an_entry_that_says_the_sources_lack_it_loads_as_focus_absent(tmp_path):
    lead = {"text": "My sources don't give a price, because zimislecel is not approved for sale.",
            "cite": "reichman2025-en § results"}
    lib = library.load_library(write_library(tmp_path, [entry(focus_absent=True, answer=[lead, GOOD["answer"][1]])]))
    assert lib.get("zimislecel-results", "en").focus_absent
    assert not library.load_library(write_library(tmp_path / "plain", [entry()])).entries[0].focus_absent


@pytest.fixture(scope="module")
def corpus_sentences():
    """The normalised corpus sentences per language, as the answer chain hands them to absent_focus."""
    from t1d_qa.compose.matcher import normalize
    from t1d_qa.corpus import chunk_corpus, load_corpus, split_sentences

    out: dict[str, list[str]] = {}
    for chunk in chunk_corpus(load_corpus(CORPUS)):
        out.setdefault(chunk.lang, []).extend(normalize(s) for s in split_sentences(chunk.text))
    return out


@pytest.mark.parametrize(
    ("question", "lang", "absent"),
    [
        # the cue occurs in the corpus, but never together with anything else the question asks
        ("Can a woman get pregnant after an islet transplant while on anti-rejection drugs?", "en",
         "anything about pregnancy, fertility or breastfeeding"),
        ("Does pregnancy change what my HbA1c means?", "en", ""),  # "pregnancy can skew HbA1c"
        ("How many yuan does the Tianjin transplant cost?", "en", "the price"),
        ("How much does it cost to be in the VX-880 trial?", "en", ""),  # the site letter: no cost
        ("干细胞移植以后能坐飞机去旅游吗", "zh", "旅行"),
        # a city is a focus only when the question asks where or which hospital
        ("广州哪家医院可以做干细胞治疗", "zh", "这个城市的医院"),
        ("我们在上海，国家真的批准干细胞治糖尿病了吗", "zh", ""),
        ("北京哪家医院做了CiPSC那项研究", "zh", ""),  # the CiPSC teams include Beijing's
        # two foci, one given: answer the one that is
        ("How much does it cost to be in a trial like VX-880 and will my insurance cover it?", "en", ""),
        ("What did the zimislecel trial find?", "en", ""),
    ],
)
def test_a_focus_is_given_only_with_something_else_the_question_asks(lexicon, corpus_sentences, question, lang,
                                                                      absent):
    assert lexicon.absent_focus(question, lang, corpus_sentences[lang]) == absent


def test_the_lexicon_names_only_known_entities_and_aspects(lexicon):
    assert set(lexicon.entities) <= set(library.ENTITIES)
    assert set(lexicon.aspects) <= set(library.ASPECTS)
    assert lexicon.cues("vx880 tumors")[library.ASPECTS.index("risks")] == 1.0  # US spelling


def test_every_entry_has_held_out_paraphrases_never_trained_on():
    from t1d_qa.compose.matcher import holdout, training_texts

    lib = library.load_library(CORPUS, strict=False)
    trained = {t for t, _ in training_texts(lib, held_out=True)}
    for entry in lib.entries:
        train, held = holdout(entry)
        assert held and not set(held) & trained and len(train) + len(held) == len(entry.paraphrases)
    assert holdout(lib.entries[0]) == holdout(lib.entries[0])  # deterministic


def test_the_matcher_is_precise_on_held_out_paraphrases(embeddings):
    """The same measurement as benchmarks/intent.py, gated."""
    from t1d_qa.compose import matcher

    lib = library.load_library(CORPUS, strict=False)
    encode = matcher.cached_encoder(embeddings, MODELS / "library" / "question-vectors.npz")
    scores = matcher.holdout_scores(lib, encode)[matcher.MIN_CONFIDENCE]
    assert scores["precision"] >= PRECISION_FLOOR, scores
    assert scores["recall"] >= RECALL_FLOOR, scores


# Another author's questions (tests/question_bank/, 444 an entry answers and 60 none does), written from the
# entries' questions and answers only and never trained on. Measured with benchmarks/intent.py (2026-11-30):
# before the first author's questions joined the training data, precision 0.960, recall 0.595, 15% of the
# unanswerable matched anyway; after, precision 0.977, recall 0.673, 15%. Floors a little under the second.
ASKED_FLOORS = {"precision": 0.96, "recall": 0.65, "false_matches": 0.20}


def test_the_matcher_on_a_held_out_authors_questions(trained):
    from t1d_qa.compose import matcher

    m, embeddings = trained
    bank, problems = library.load_asked(ROOT / "tests" / "question_bank", m.library.entries)
    assert not problems and len(bank) >= 400
    encode = matcher.cached_encoder(embeddings, MODELS / "library" / "question-vectors.npz")
    scores = matcher.asked_scores(m, bank, encode)
    assert scores["precision"] >= ASKED_FLOORS["precision"], scores
    assert scores["recall"] >= ASKED_FLOORS["recall"], scores
    assert scores["false_matches"] <= ASKED_FLOORS["false_matches"], scores


# -- the eval's patient checks (evaluation.py), on small answer dicts


def _case(**kw):
    from t1d_qa.evaluation import Case

    values = {"id": "c", "category": "factual", "lang": "en", "kind": "answer", "turns": ("q",)}
    values.update(kw)
    return Case(**values)


def test_direct_means_the_key_fact_leads():
    from t1d_qa.evaluation import is_direct

    case = _case(turns=("How many people stopped insulin in the Vertex trial?",), must_include=(("10 of",), ("12",)))
    lead = {"kind": "answer", "answer": "10 of the 12 people needed no insulin. [1] It was small. [2]"}
    late = {"kind": "answer", "answer": "Vertex runs it. [1] It was phase 1/2. [1] 10 of 12 stopped. [2]"}
    assert is_direct(case, lead) and not is_direct(case, late)
    absent = _case(kind="no_answer", turns=("How much does it cost?",))
    assert is_direct(absent, {"kind": "no_answer", "answer": "My sources don't give the price, and I won't guess."})
    assert not is_direct(absent, {"kind": "answer", "answer": "Vertex sponsors the trial. [1]"})


def test_on_entity_flags_citations_about_another_study():
    from t1d_qa.evaluation import off_entity

    case = _case(turns=("Where was the CiPSC study done?",))
    cite = {"n": 1, "chunk_id": "x:1", "doc_id": "x", "title": "t", "source": "s"}
    wrong = {"citations": [dict(cite, section="Zimislecel (VX-880) trial: follow-up", quote="Vertex ran it.")]}
    right = {"citations": [dict(cite, section="CiPSC islet study: who ran it", quote="Tianjin First Central Hospital")]}
    general = {"citations": [dict(cite, section="Choosing a registered clinical trial", quote="Ask your team.")]}
    assert off_entity(case, wrong) and not off_entity(case, right) and not off_entity(case, general)
