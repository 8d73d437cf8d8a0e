"""The naive LangChain baseline the evaluation compares the product with.

What a first tutorial-style prototype would do: dense-only Chroma ``similarity_search(k=4)``
on the raw question, and answer with the top chunk verbatim, cited as [1]. No screening
(emergency, personal advice, scope), no follow-up resolution, no language choice, no
relevance floor, no sentence selection, no balancing, no disclaimer or AI label. Its answers
have the same dict shape as Answer.to_dict(), so the same metrics score both systems.
"""

from __future__ import annotations

import time
import uuid

from .corpus import language_of

K = 4


class NaiveBaseline:
    name = "naive baseline"

    def __init__(self, index, k: int = K):
        self.store = index.chunks  # the langchain_chroma Chroma vector store of the chunks
        self.k = k

    def ask(self, question: str, history=None, id: str | None = None) -> dict:
        started = time.perf_counter()
        docs = self.store.similarity_search(question, k=self.k) if question.strip() else []
        top = docs[0] if docs else None
        text = f"{top.page_content} [1]" if top else ""
        citations = []
        if top:
            meta = top.metadata
            citations.append({
                "n": 1, "chunk_id": meta.get("chunk_id", ""), "doc_id": meta.get("doc_id", ""),
                "title": meta.get("title", ""), "section": meta.get("section", ""),
                "source": meta.get("source", ""), "quote": top.page_content,
            })
        return {
            "id": id,
            "answer_id": uuid.uuid4().hex[:16],
            "question": question,
            "resolved_question": question,
            "language": language_of(text),
            "kind": "answer" if top else "no_answer",
            "answer": text,
            "citations": citations,
            "disclaimer": "",
            "ai_label": "",
            "retrieved": [d.metadata.get("chunk_id", "") for d in docs],
            "latency_ms": int((time.perf_counter() - started) * 1000),
        }
