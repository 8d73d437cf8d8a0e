"""The answer chain end to end on the real index: cited, grounded, bilingual, always disclaimed."""

from __future__ import annotations

import re

import pytest

from t1d_qa.citations import check_citations, markers, support
from t1d_qa import replies
from t1d_qa.library import numbers_in


def _chunk_texts(pipeline):
    return {cid: text for cid, text, _ in pipeline.index.all_chunks()}


@pytest.mark.parametrize(
    "question, lang",
    [("我做了干细胞治疗以后能停用胰岛素吗？", "zh"), ("Can I stop insulin after stem cell therapy?", "en")],
)
def test_stop_insulin_gets_cited_evidence_and_the_warning(pipeline, question, lang):
    answer = pipeline.ask(question)
    assert answer.kind == "answer" and answer.language == lang
    assert len(answer.citations) >= 2
    warning = "只有您的糖尿病医疗团队" if lang == "zh" else "Only your diabetes team may decide"
    assert warning in answer.answer
    assert answer.disclaimer and answer.ai_label


def test_citations_are_verbatim_and_every_marker_resolves(pipeline):
    chunks = _chunk_texts(pipeline)
    for question in ("zimislecel试验中有人死亡吗？", "Where were the CiPSC islets transplanted?", "What is C-peptide?"):
        answer = pipeline.ask(question)
        assert answer.citations, question
        assert check_citations(answer.answer, answer.citations, chunks) == []
        assert set(markers(answer.answer)) == {c.n for c in answer.citations}
        for c in answer.citations:
            assert c.quote in chunks[c.chunk_id]
            assert c.doc_id == c.chunk_id.split(":")[0] and c.source


def test_each_answer_sentence_is_supported_by_its_quote(pipeline):
    answer = pipeline.ask("How many Sichuan patients were off insulin at month 36?")
    quotes = {c.n: c.quote for c in answer.citations}
    body = answer.answer.split("\n\n")[0]
    assert answer.source in ("library", "extractive")
    for sentence in body.split("] "):
        n = markers(sentence + "]")
        if not n:
            continue
        if answer.source == "extractive":  # quoted corpus sentences
            assert support(sentence, quotes[n[-1]]) >= 0.8, sentence
        else:  # reviewed entries are reworded: every number must be in the cited passage
            assert numbers_in(sentence.rsplit("[", 1)[0]) <= numbers_in(quotes[n[-1]]), sentence


@pytest.mark.parametrize(
    "question", ["Can I eat sweets after stem cell therapy?", "干细胞治疗后可以喝酒吗？"]
)
def test_uncovered_question_is_refused_not_guessed(pipeline, question):
    answer = pipeline.ask(question)
    assert answer.kind == "no_answer" and not answer.citations
    assert any(w in answer.answer for w in ("don't cover", "don't give", "没有能回答", "资料里没有"))


def test_unrelated_question_is_out_of_scope(pipeline):
    answer = pipeline.ask("What will the weather be like in Beijing tomorrow?")
    assert answer.kind == "out_of_scope" and not answer.citations and answer.disclaimer


def test_answers_follow_the_question_language(pipeline):
    zh = pipeline.ask("zimislecel试验有哪些风险？")
    en = pipeline.ask("What are the risks of the zimislecel trial?")
    assert zh.language == "zh" and all(c.doc_id.endswith("-zh") for c in zh.citations)
    assert en.language == "en" and all(c.doc_id.endswith("-en") for c in en.citations)


def test_trial_success_comes_with_a_limitation(pipeline):
    answer = pipeline.ask("How many people in the zimislecel trial no longer needed insulin?")
    assert answer.kind == "answer"
    text = answer.answer.lower()
    assert any(w in text for w in ("immunosuppress", "death", "small", "not approved", "only", "limitation"))


def test_follow_up_is_resolved_against_history(pipeline):
    first = "zimislecel试验的结果怎么样？"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": "…"}]
    answer = pipeline.ask("那风险呢？", history=history)
    assert answer.kind == "answer"
    assert "zimislecel" in answer.resolved_question
    assert any(c.doc_id.startswith(("reichman2025", "article")) for c in answer.citations)


def test_empty_question_is_invalid_and_still_disclaimed(pipeline):
    answer = pipeline.ask("   ")
    assert answer.kind == "invalid" and answer.disclaimer and answer.ai_label


def test_no_reply_contains_article_cure_wording(pipeline):
    for q in ("干细胞能根治1型糖尿病吗？", "Is stem cell therapy a functional cure for type 1 diabetes?"):
        text = pipeline.ask(q).answer
        assert "根治" not in text.replace(q, "") and "guaranteed" not in text.lower()


# -- the reviewed answer library (corpus/answers) comes first


def test_a_library_answer_says_where_it_comes_from(pipeline):
    answer = pipeline.ask("In plain words, how does the Vertex treatment work?")
    data = answer.to_dict()
    assert data["source"] == "library" and data["entry_id"] == "zimislecel-overview" and data["reviewed"]
    assert check_citations(answer.answer, answer.citations, _chunk_texts(pipeline)) == []
    assert all(c.doc_id.startswith(("reichman2025", "safety")) for c in answer.citations)
    # it mentions people off insulin, but it is not about changing insulin: no insulin warning
    assert "Only your diabetes team may decide" not in answer.answer


def test_the_hospital_question_names_the_hospital_first(pipeline):
    answer = pipeline.ask("CiPSC那个研究是哪家医院做的")
    assert answer.to_dict()["source"] == "library"
    assert "天津市第一中心医院" in answer.answer.split("。")[0]


def test_without_a_matching_entry_the_extractive_answer_says_so(pipeline, monkeypatch):
    monkeypatch.setattr(pipeline.library, "matcher", None)  # as with an empty library
    data = pipeline.ask("How many people in the zimislecel trial no longer needed insulin?").to_dict()
    assert data["kind"] == "answer" and data["source"] == "extractive" and data["entry_id"] is None


@pytest.mark.parametrize("question", ["how long did the chinese woman stay off insulin after the chemically made cells",
                                      "诊所文章说天津那个病人多久不用打胰岛素"])
def test_the_article_is_quoted_in_its_own_attributed_words(pipeline, monkeypatch, question):
    """The corpus attributes each of the article's claims in the sentence itself ("The clinic's article says",
    "诊所文章称"); the answer quotes it as written, never with a second attribution, and never puts the
    editor's comparisons with the papers in the article's mouth."""
    monkeypatch.setattr(pipeline.library, "matcher", None)
    answer = pipeline.ask(question)
    assert answer.source == "extractive"
    quotes = [c.quote for c in answer.citations]
    for sentence in re.split(r"(?<=\])\s*", answer.answer.split("\n\n")[0]):
        said = re.sub(r"\s*\[\d+\]$", "", sentence).strip()
        if said:
            assert any(said in q for q in quotes), said  # the corpus sentence, nothing added
            assert len(re.findall(r"clinic's article says|诊所文章称|诊所的科普文章称", said)) <= 1, said


def test_what_the_sources_lack_is_named_not_replaced_by_nearby_facts(pipeline):
    answer = pipeline.ask("How long do I have to stay in hospital after an islet cell transplant?")
    assert answer.kind == "no_answer" and not answer.citations
    assert answer.answer.startswith("My sources don't give how long the hospital stay is")


def test_two_questions_in_one_message_get_an_entry_each(pipeline):
    answer = pipeline.ask("What did the zimislecel trial find? Did anyone die in it?")
    ids = [e["id"] for e in answer.to_dict()["entries"]]
    assert sorted(ids) == ["zimislecel-deaths", "zimislecel-results"], ids


def test_a_follow_up_is_a_new_question_never_the_last_answer(pipeline):
    first = pipeline.ask("干细胞能治愈1型糖尿病吗？")
    history = [{"role": "user", "content": first.question}, {"role": "assistant", "content": first.answer}]
    again = pipeline.ask("那风险呢？", history=history)
    assert again.kind == "answer" and again.answer.strip() not in first.answer
    assert again.to_dict()["entry_id"] != first.to_dict()["entry_id"]


def test_an_entry_that_says_the_sources_lack_it_is_an_honest_no_answer(pipeline):
    """A reviewed entry marked focus_absent (a price, insurance) keeps its related facts and citations,
    but the reply's kind is no_answer: the question's focus is not in the sources."""
    from t1d_qa import safety
    from t1d_qa.answer import finish
    from t1d_qa.compose.matcher import Match

    entry = pipeline.library.library.get("general-cost", "en")
    assert entry.focus_absent
    draft = pipeline.library._draft([Match(entry, entry.aspect, 1.0, entry.question)], "en")
    state = {"question": entry.question, "screen": safety.Screen("ok", language="en"), "draft": draft}
    answer = finish(state, pipeline.settings)
    assert answer.kind == "no_answer" and answer.answer.startswith("My sources don't give a price")
    assert answer.citations and answer.to_dict()["source"] == "library"


@pytest.mark.parametrize(
    "question",
    ["Can a woman get pregnant after an islet transplant while she is on anti-rejection drugs?",
     "杭州哪家医院能做干细胞胰岛移植"],
)
def test_a_focus_the_sources_lack_comes_before_any_reviewed_entry(pipeline, question):
    answer = pipeline.ask(question)
    assert answer.kind == "no_answer" and not answer.citations
    assert answer.answer.startswith(("My sources don't give", "我的资料里没有提供"))


# Written before the fix: a question typed in traditional characters was screened as Chinese but retrieved and
# matched as typed, against a simplified corpus, and got "my sources don't cover this".
@pytest.mark.parametrize("traditional, simplified", [
    ("參加正規的臨床試驗要自己付錢嗎", "参加正规的临床试验要自己付钱吗"),
    ("四川那個研究有多少人不用打胰島素了", "四川那个研究有多少人不用打胰岛素了"),
    ("幹細胞做的胰島會不會變成腫瘤", "干细胞做的胰岛会不会变成肿瘤"),
])
def test_traditional_characters_get_the_answer_simplified_ones_get(pipeline, traditional, simplified):
    t, s = pipeline.ask(traditional), pipeline.ask(simplified)
    assert s.kind == "answer", s.answer
    assert (t.kind, t.answer) == (s.kind, s.answer)


@pytest.mark.parametrize("question", [None, 42])
def test_a_question_that_is_not_text_is_invalid_not_a_crash(pipeline, question):
    answer = pipeline.ask(question)
    assert answer.kind == "invalid" and answer.disclaimer


# A patient reader (stop 21) never showed a stitched extractive reply unedited (0 of 18): when no entry matches
# for sure, the closest reviewed entry answers under its own question, with the next ones offered to ask.
def _shows_the_nearest_entry(pipeline, answer, lang):
    assert answer.kind == "answer" and answer.source == "library", (answer.kind, answer.source)
    assert answer.answer.startswith(replies.text("library_nearest", lang)), answer.answer[:80]
    questions = {e.question for e in pipeline.library.library.in_language(lang)}
    shown = [q for q in questions if f"\n{q}\n" in f"\n{answer.answer}\n"]
    assert shown, "the entry is shown under its own question"
    assert set(answer.suggestions) <= questions
    if answer.suggestions:
        assert replies.text("library_suggestions", lang) in answer.answer
    return shown


@pytest.mark.parametrize("question, lang, entry", [
    ("Do you need anti-rejection drugs with zimislecel?", "en", "zimislecel-immunosuppression"),
    ("zimislecel需要用抗排斥药吗？", "zh", "zimislecel-immunosuppression"),
])
def test_without_a_sure_match_the_nearest_entry_answers_under_its_own_question(pipeline, monkeypatch, question,
                                                                               lang, entry):
    monkeypatch.setattr(pipeline.library.matcher, "min_confidence", 2.0)  # match() abstains on every question
    answer = pipeline.ask(question)
    shown = _shows_the_nearest_entry(pipeline, answer, lang)
    assert answer.entries[0]["id"] == entry and shown == [pipeline.library.library.get(entry, lang).question]


@pytest.mark.parametrize("question", [
    "做了以后还要打胰岛素吗",  # the reader's; stitched sentences from NHS Wales, a gene-edited islet case, Houston
    "how long do the new cells keep working and would i need more of them later",
])
def test_a_patients_unsure_question_gets_a_reviewed_entry_not_stitched_sentences(pipeline, question):
    lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in question) else "en"
    answer = pipeline.ask(question)
    assert answer.kind == "answer" and answer.source == "library", (answer.kind, answer.source, answer.answer[:200])
    if answer.answer.startswith(replies.text("library_nearest", lang)):
        _shows_the_nearest_entry(pipeline, answer, lang)


def test_the_nearest_entry_needs_the_retrieved_evidence_to_agree(pipeline, monkeypatch):
    # the classifier alone reads "warning signs of DKA" as telling a genuine trial's warning signs; the retriever
    # finds the DKA section, whose sentences are far closer to the question than the trial section's
    monkeypatch.setattr(pipeline.library.matcher, "min_confidence", 2.0)  # match() abstains on every question
    question = "what are the warning signs of diabetic ketoacidosis"
    vector = pipeline.index.embeddings.embed_query(question)
    assert pipeline.library.matcher.nearest(question, "en", vector)[0].entry.id == "general-genuine-trial"
    answer = pipeline.ask(question)
    assert "general-genuine-trial" not in [e["id"] for e in answer.entries]
    assert re.search(r"vomit|breath", answer.answer), answer.answer[:300]
    assert pipeline.library.nearest(question, "en", vector, []).empty  # no evidence retrieved: nothing is shown
