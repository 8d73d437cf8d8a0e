"""Medical safety: screen(question) before retrieval, check(...) after composing.

Rules are data: each has a name, the kind it leads to, Chinese and English patterns, and
the reply it gives. Matching runs on a normalised question (full-width to half-width,
traditional to simplified for the characters the rules use, lower case, spaces collapsed),
so the same rule catches "２.８ ｍｍｏｌ／Ｌ", "暈倒" and "PASSED OUT".
Prompt-injection text is ordinary text: nothing in a question can switch a rule off.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from opencc import OpenCC

from . import replies, situation
from .corpus import language_of

_OPENCC = OpenCC("t2s")
_CJK = r"\u3400-\u9fff\uf900-\ufaff"


def simplified(text: str) -> str:
    """The text with traditional Chinese characters made simplified, as the corpus is written; nothing else changes."""
    return _OPENCC.convert(text)


def normalize(text: str) -> str:
    """The form every rule matches against.

    NFKC turns full-width digits, letters and punctuation into ASCII ("２．８ ｍｍｏｌ／Ｌ" ->
    "2.8 mmol/l"); _T2S maps the traditional characters the rules use; spaces typed between
    Chinese characters ("我 老 婆 晕 倒 了") and around a unit's slash ("mg / dL") are dropped.
    """
    text = _OPENCC.convert(unicodedata.normalize("NFKC", text)).lower()
    text = text.replace("毫摩尔/升", "mmol/l").replace("毫摩尔", "mmol").replace("毫克/分升", "mg/dl")
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(rf"(?<=[{_CJK}]) (?=[{_CJK}])", "", text)
    return re.sub(r"\b(mmol|mg) ?/ ?(l|dl)\b", r"\1/\2", text)


@dataclass(frozen=True)
class Screen:
    """What screening decided: kind "ok" lets the question through to retrieval."""

    kind: str  # ok | invalid | emergency | personal_advice | out_of_scope | out_of_scope_candidate
    rule: str = ""
    message: str = ""
    language: str = "en"
    # "insulin" | "immunosuppressant" | "insulin_and_immunosuppressant" when the question is about
    # stopping, reducing or skipping them; finish() adds replies.text(f"{topic}_warning").
    topic: str = ""
    reason: str = ""  # why, in words a clinician can read ("signs together: confused, sweating")
    team: str = ""  # personal advice: "diabetes" | "transplant", the team that decides
    places: frozenset[str] = frozenset()  # emergency: hk | macau | taiwan | abroad named in the message


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    zh: tuple[str, ...]
    en: tuple[str, ...]

    def matches(self, text: str) -> bool:
        return any(re.search(p, text) for p in self.zh + self.en)


# Words that put a question in this chatbot's field; a question with none of them is only
# answered when retrieval still finds a close passage (an in-scope paraphrase).
TOPIC_ZH = (
    "糖尿病", "胰岛", "胰岛素", "血糖", "干细胞", "细胞", "移植", "c肽", "糖化", "免疫", "排异", "排斥",
    "试验", "低血糖", "酮", "胰腺", "β", "诊所", "医院", "治愈", "根治", "停药", "打针", "针", "注射",
    "临床", "研究", "论文", "副作用", "风险", "复查", "随访", "抗排", "他克莫司", "达标",
)
TOPIC_EN = (
    "diabet", "insulin", "islet", "stem", "cell", "transplant", "glucose", "sugar", "hba1c", "a1c",
    "c-peptide", "peptide", "immun", "rejection", "trial", "zimislecel", "vx-880", "vx880", "cips", "ipsc",
    "lantidra", "hypo", "ketoacidosis", "dka", "pancrea", "beta", "clinic", "cure", "study", "injection",
    "side effect", "risk", "t1d", "vertex", "tacrolimus", "time in range",
)
# Clearly another subject. Stem cells for another disease ("my knee arthritis") are out of scope
# even though "stem cells" is a topic word; diabetes words in the same question keep it in.
OFF_TOPIC = Rule(
    "other_topics",
    "out_of_scope",
    zh=(
        r"(关节炎|膝盖|抗衰老|美容|变年轻|脱发|自闭症|帕金森|阿尔茨海默|中风|股票|基金|炒股|天气|代码|编程|菜谱|旅游|彩票)",
        r"写.{0,8}(诗|代码|程序|作文)",
    ),
    en=(
        r"\b(arthritis|knee|anti-?aging|look younger|wrinkles?|hair loss|autism|parkinson\W?s?|alzheimer\W?s?|stroke|"
        r"stocks?|shares|invest\w*|weather|poem|poetry|python script|javascript|recipe|lottery|football)\b",
        r"\b(write|debug|fix)\b.{0,20}\b(code|program|script|function|essay)\b",
    ),
)

INSULIN_CHANGE = Rule(
    "insulin_change_topic",
    "warning",
    zh=(
        r"(停|减|不打|不用|少打|脱离|撤除|摆脱|告别|跳过|断).{0,8}(胰岛素|针)",
        r"胰岛素.{0,8}(停|减量|减少|不打|独立)",
        r"(还要|还需要|还得|需不需要|要不要|不需要|不用再).{0,3}(打|用)?胰岛素",  # whether insulin is still needed
    ),
    en=(
        r"\b(stop\w*|skip\w*|quit\w*|reduc\w*|cut\w*|halv\w*|lower\w*|come off|coming off|get off|off) .{0,20}\binsulin\b",
        r"\binsulin[- ](free|independen\w*)\b",
        r"\bwithout insulin\b",
        r"\b(still|no longer|not) need\w* (to (take|use|inject) )?(any )?insulin\b",
    ),
)
IMMUNOSUPPRESSANT_CHANGE = Rule(
    "immunosuppressant_change_topic",
    "warning",
    zh=(r"(停|减|不吃|断|撤|跳过|少吃).{0,6}(抗排异|抗排斥|免疫抑制|他克莫司)",
        r"(抗排异|抗排斥|免疫抑制|他克莫司).{0,8}(停|减量|减少|不吃)"),
    en=(r"\b(stop\w*|skip\w*|quit\w*|reduc\w*|cut\w*|halv\w*|lower\w*|come off|get off) .{0,25}"
        r"\b(immunosuppress\w*|anti-?rejection|tacrolimus)",),
)

# Promotional or absolute claims: never produced by this chatbot.
PROMOTIONAL = Rule(
    "promotional_claim",
    "blocked",
    zh=(r"(根治|保证治愈|包治|100%有效|百分之百|治愈率|彻底治愈|永久治愈|一次治愈|一劳永逸|无任何风险|没有任何风险|最好的医院|比其他医院|彻底摆脱针管|治好了|包好|百分百有效|100% ?有效)",),
    en=(
        r"\b(guarantee[sd]?|100% (effective|cure|success)|cure rate|permanent cure|cures? (type 1 )?diabetes|"
        r"risk[- ]free|no risks?|completely safe|100% safe|better than other (hospitals|clinics)|best (hospital|clinic)|"
        r"(is|are|was|were|been|get|got) cured|100 ?% (effective|cure|success))\b",
    ),
)
# "功能性治愈/functional cure" may be reported only from a source that gives its limitation.
CURE_WORDS = re.compile(r"(治愈|cure[ds]?\b)")

# A reported success: people off insulin. "不需要胰岛素" and "truly stop insulin" are how the
# Chinese reference card and the commercial article phrase it; "never to stop insulin" (the NHS
# warning) is not a success, hence the look-behinds.
TRIAL_SUCCESS = re.compile(
    r"(停用胰岛素|停掉胰岛素|脱离胰岛素|撤除胰岛素|摆脱胰岛素|告别胰岛素|(不再|不)需要胰岛素|胰岛素独立|"
    r"无需胰岛素|无胰岛素|不用(打)?胰岛素|insulin[- ]free|insulin independen|no longer need(ed|s)? insulin|"
    r"(needed|need|required) no insulin|did not need insulin|(?<!never to )(?<!not )(?<!never )"
    r"(truly |really |completely |fully )?stop(ped)? (taking |using )?insulin|off insulin|free (them |people )?from "
    r"(daily )?insulin)",
    re.I,
)
LIMITATION = re.compile(
    r"(局限|样本|仅\s*1|只有一|一名患者|单例|小规模|免疫抑制|抗排异|死亡|尚未批准|未获批|未批准|不良事件|随访时间|"
    r"limitation|small|only one|single|one patient|n ?= ?1|immunosuppress|death|died|not approved|"
    r"investigational|adverse|uncontrolled|follow-up was|only 1)",
    re.I,
)


def situation_text(text: str) -> str:
    """The normalised text the situation screen reads: Cantonese forms in Mandarin, the lexicon's terms
    where they were typed by sound (pinyin, voice input: situation.Sounds), and a space between Chinese
    phrases kept as a pause (a clause break)."""
    lexicon = situation.lexicon()
    text = lexicon.by_sound(lexicon.mandarin(unicodedata.normalize("NFKC", text)))
    if _word_spaced(text):  # "前 几天 晚上 出了 一身 汗": the spaces part words, not phrases
        return normalize(text)
    return normalize(re.sub(rf"(?<=[{_CJK}]{{2}})\s+(?=[{_CJK}]{{2}})", "，", text))


def _word_spaced(text: str) -> bool:
    """Chinese typed with a space after (nearly) every word: most runs between spaces are 1-3 characters."""
    runs = re.findall(rf"[{_CJK}]+", text)
    spaced = re.findall(rf"[{_CJK}]\s+(?=[{_CJK}])", text)
    return len(spaced) >= 5 and sum(len(r) <= 3 for r in runs) >= 0.8 * len(runs)


def screen(question: str, max_chars: int, vector=None) -> Screen:
    """Classify a message before retrieval; the situation it describes decides.

    Order matters: invalid, then emergency (an emergency anywhere in a message wins, even inside a
    dose question or a long story), then personal advice, then scope. Nothing in the message can
    skip a step. A message over the length limit is still checked for an emergency before it is
    refused. Every decision keeps its rule and, for emergencies and advice, the reason in words.
    With the message's embedding (`vector`), the learned net (screen_net) can add an emergency or an
    advice decision the lexicon did not make.
    """
    text = question if isinstance(question, str) else ""
    if not text.strip():
        return Screen("invalid", "empty", replies.text("invalid_empty", language_of(text)), language_of(text))
    # a message far over the limit is read at its start and its end (where a buried emergency would be);
    # nothing reads all of a multi-megabyte message
    window = max_chars
    read = text if len(text) <= 2 * window else text[:window] + "\n" + text[-window:]
    language = language_of(read)
    situation_read = situation_text(read)
    finding = situation.analyse(situation_read)
    decision = situation.emergency(finding)
    learned = _learned(finding, vector, situation_read)
    if not decision.kind and learned[0] == "emergency":
        # which emergency: words of self-harm get the crisis reply; otherwise the net's emergency-type head says
        # (a low or DKA: the steps; chest pain or a stroke: call and stay; self-harm: the crisis reply)
        harm = [t for g in _SELF_HARM_GROUPS for t in finding.terms_outside(g, situation.NOT_INTENT)]
        kind = "self_harm" if harm else _learned_emergency_kind(finding, vector, situation_read)
        rule = {"self_harm": "learned_self_harm", "chest_stroke": "learned_chest_stroke"}.get(kind, "learned_emergency")
        decision = situation.Decision("emergency", rule, f"learned net, p={learned[1]:.2f}: "
                                      + ", ".join(harm or situation.signs_and_context(finding)))
    if decision.kind:
        return Screen("emergency", decision.rule, language=language, reason=decision.reason,
                      places=frozenset(finding.places))
    if len(text) > max_chars:
        return Screen("invalid", "too_long", replies.text("invalid_too_long", language, limit=max_chars), language)
    norm = normalize(text)
    topic = change_topic(norm)
    advice = situation.personal_advice(finding)
    if not advice.kind and learned[0] == "personal_advice":
        immuno = finding.terms_outside("immunosuppressant", ("study",))
        advice = situation.Decision("personal_advice", "learned_advice", f"learned net, p={learned[1]:.2f}",
                                    "transplant" if immuno else "diabetes")
    if advice.kind:
        team_topic = "immunosuppressant" if advice.team == "transplant" else "insulin"
        return Screen("personal_advice", advice.rule, language=language, topic=topic or team_topic,
                      reason=advice.reason, team=advice.team)
    described = finding.mentions_body_or_medicine()  # a symptom description is never out of scope
    if OFF_TOPIC.matches(norm) and not _on_topic(norm, strict=True) and not described:
        return Screen("out_of_scope", OFF_TOPIC.name, language=language)
    if not _on_topic(norm) and not described:
        return Screen("out_of_scope_candidate", "no_topic_word", language=language, topic=topic)
    return Screen("ok", language=language, topic=topic)


def _learned(finding: situation.Finding, vector, text: str) -> tuple[str, float]:
    """The learned net's decision. An emergency can be told without any medical word (a farewell, a grandparent
    who will not get up): the net reads every message for one. Advice needs a medicine or a change to one:
    the net's advice decision only counts for a message that mentions the body, a medicine or a change."""
    from .screen_net import load_net

    net = load_net() if vector is not None else None
    if net is None:
        return "", 0.0
    kind, probability = net.decide(finding, vector, text)
    if kind == "personal_advice" and not (finding.mentions_body_or_medicine()
                                          or finding.mentions_any(_CHANGE_GROUPS)):
        return "", 0.0
    return kind, probability


def _learned_emergency_kind(finding: situation.Finding, vector, text: str) -> str:
    """Which emergency the net's type head reads: "low_or_dka", "chest_stroke" or "self_harm"."""
    from .screen_net import load_net

    net = load_net()
    if net is None:
        return "low_or_dka"
    probs = net.emergency_kind(finding, vector, text)
    return max(probs, key=probs.get)


_SELF_HARM_GROUPS = ("self_harm", "farewell", "stockpile")
_CHANGE_GROUPS = ("other", "change", "dose")  # another medicine, or changing or dosing one (even unnamed)


def change_topic(norm_text: str) -> str:
    """Which warning a question or answer about stopping/reducing medicine needs, or ""."""
    insulin = INSULIN_CHANGE.matches(norm_text)
    immuno = IMMUNOSUPPRESSANT_CHANGE.matches(norm_text)
    if insulin and immuno:
        return "insulin_and_immunosuppressant"
    return "insulin" if insulin else "immunosuppressant" if immuno else ""


def _on_topic(norm: str, strict: bool = False) -> bool:
    if strict:  # "stem cells for my knee" names stem cells but is about another disease
        # the field's own studies count too: "I had a stroke years ago; am I excluded from the Vertex trial?"
        # and a stem-cell trial is this clinic's field: "my dad had a stroke 5 years ago, would he be excluded
        # from a stem cell trial?" asks about eligibility; "stem cells for my knee" names no trial
        return bool(re.search(r"(糖尿病|胰岛|血糖|diabet|insulin|islet|glucose|t1d|zimislecel|vx-?880|cipsc|"
                              r"(?:vertex|stem[- ]?cells?|干细胞).{0,12}(?:trial|study|试验|研究))", norm))
    return any(w in norm for w in TOPIC_ZH) or any(w in norm for w in TOPIC_EN)


# -- after composing


def allowed_sentence(sentence: str, metadata: dict) -> bool:
    """May this corpus sentence appear in an answer? No promotional or unattributed cure claims."""
    norm = normalize(sentence)
    if PROMOTIONAL.matches(norm):
        return False
    # The commercial article's own cure wording is left out; the reference cards report it with
    # attribution and its limitation.
    return not (metadata.get("kind") == "article" and CURE_WORDS.search(norm))


def needs_balance(text: str) -> bool:
    """True when an answer reports a trial success without any limitation next to it."""
    return bool(TRIAL_SUCCESS.search(text)) and not LIMITATION.search(text)


def is_limitation(sentence: str) -> bool:
    return bool(LIMITATION.search(sentence))


# a line that asks, with no citation after it: a reviewed entry's question shown as a heading or a suggestion
# ("Can stem-cell therapy cure type 1 diabetes?") asks; it claims nothing
_ASKING_LINE = re.compile(r"^[^\n\[\]]*[?？]\s*$", re.M)


def claims(text: str) -> str:
    """A reply without the lines that only ask (entry questions shown as headings or suggestions)."""
    return _ASKING_LINE.sub("", text)


def violations(text: str) -> list[str]:
    """Promotional wording or dose instructions in a finished reply (must be empty)."""
    norm = normalize(text)
    found = []
    if PROMOTIONAL.matches(normalize(claims(text))):  # an entry's question asks; it claims nothing
        found.append("promotional claim")
    if re.search(r"(请|应|应该|可以)(停用|停掉|停|减少|减半|不打|不用)(你的|您的)?胰岛素|"
                 r"\byou (should|can|could|may) (stop|reduce|halve|skip|quit|come off|cut) (taking )?(your )?insulin", norm):
        found.append("instruction to change insulin")
    return found
