"""Resolve a follow-up question ("那风险呢？", "what about its risks?") against recent turns."""

from __future__ import annotations

import re
from collections.abc import Callable

from .corpus import language_of

_FOLLOWUP_ZH = re.compile(r"^(那|那么|还有|另外|再问|它|它的|他们|这个|这种|该|其)|(呢|吗)[？?]?$")
_FOLLOWUP_EN = re.compile(
    r"^(and|what about|how about|also|then|so)\b|\b(it|its|it's|they|them|their|this|that|these|those|the same)\b",
    re.I,
)


def user_turns(history) -> list[str]:
    """User messages from a history of {"role", "content"} dicts (Gradio 6 or OpenAI style)."""
    out = []
    for turn in history or []:
        if isinstance(turn, dict) and turn.get("role") == "user":
            content = turn.get("content")
            if isinstance(content, list):  # Gradio 6 structured content
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            if isinstance(content, str) and content.strip():
                out.append(content.strip())
        elif isinstance(turn, str) and turn.strip():
            out.append(turn.strip())
    return out


def is_followup(question: str) -> bool:
    q = question.strip()
    if language_of(q) == "zh":
        return len(q) <= 14 and bool(_FOLLOWUP_ZH.search(q))
    return len(q.split()) <= 9 and bool(_FOLLOWUP_EN.search(q))


def resolve(question: str, history) -> str:
    """The question to retrieve and cite against: a short follow-up inherits the last topic."""
    previous = user_turns(history)
    if not previous or not is_followup(question):
        return question
    return f"{previous[-1]} {question.strip()}"


def assistant_turns(history) -> list[str]:
    """Assistant messages from a history of {"role", "content"} dicts."""
    out = []
    for turn in history or []:
        if isinstance(turn, dict) and turn.get("role") == "assistant" and isinstance(turn.get("content"), str):
            out.append(turn["content"])
    return out


# What this chatbot is about, for a follow-up whose earlier turn named no study ("那风险呢？"
# after "干细胞能治愈1型糖尿病吗？" asks about the risks of stem-cell therapy, not about curing).
DEFAULT_TOPIC = {"zh": "干细胞治疗", "en": "stem-cell therapy"}


def focus(question: str, history, mentions: Callable[[str], list[str]]) -> str:
    """The question to compose an answer for: a follow-up keeps what the earlier turn was about
    (the studies it named, via mentions()) but asks only what the follow-up asks.

    resolve() keeps the whole earlier question, which the safety screen needs ("那现在2.5呢？"
    after a question about a low reading); composing from it would answer the earlier question
    again.
    """
    previous = user_turns(history)
    if not previous or not is_followup(question):
        return question
    topic = " ".join(dict.fromkeys(mentions(previous[-1]))) or DEFAULT_TOPIC[language_of(question)]
    return f"{topic} {question.strip()}"


def repeats(text: str, history) -> bool:
    """The composed text is an earlier answer of this conversation, word for word."""
    body = text.strip()
    return bool(body) and any(body in turn for turn in assistant_turns(history))
