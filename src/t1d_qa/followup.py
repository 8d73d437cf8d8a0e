"""Resolve a follow-up question ("那风险呢？", "what about its risks?") against recent turns."""

from __future__ import annotations

import re

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
