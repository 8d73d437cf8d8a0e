"""Retrieval: dense search in Chroma fused with BM25 over jieba/word tokens, language-aware.

``HybridRetriever`` is a LangChain ``BaseRetriever``, so it plugs into any LangChain chain;
``search()`` returns the scored passages that the rest of this package works with.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from .corpus import language_of

# Names and numbers that jieba's general dictionary splits apart (FastGPT#2791-style misses).
DOMAIN_TERMS = (
    "胰岛素", "1型糖尿病", "2型糖尿病", "干细胞", "胰岛移植", "胰岛细胞", "C肽", "免疫抑制", "免疫抑制剂",
    "抗排异药", "抗排斥药", "CiPS", "CiPSC", "iPSC", "zimislecel", "VX-880", "低血糖", "严重低血糖",
    "酮症酸中毒", "糖化血红蛋白", "血糖达标", "间充质干细胞", "外周血干细胞", "腹直肌前鞘", "门静脉",
    "中性粒细胞减少", "隐球菌脑膜炎", "临床试验", "功能性治愈", "Lantidra", "FORWARD-101",
    "胰岛素独立", "停用胰岛素", "撤除胰岛素", "脱离胰岛素", "无感知低血糖", "化学重编程", "畸胎瘤",
    # the studies' own names and places, as patients name them ("四川的研究有几个人停了胰岛素")
    "Vertex", "福泰", "Sichuan", "四川", "Chengdu", "成都", "Tianjin", "天津", "teplizumab", "Tzield", "替普利珠",
)
_DOMAIN_LOWER = {t.lower() for t in DOMAIN_TERMS}
_STOP_EN = set(
    "a an and are as at be by can could do does for from has have how i if in is it its me my of on or "
    "our so that the their them there they this to was were what when where which who why will with "
    "would you your after before about any".split()
)
_STOP_ZH = set("的 了 是 吗 呢 吧 啊 我 你 他 她 它 们 能 会 在 和 与 及 或 这 那 有 也 都 就 还 要 对 把 被 让 给 什么 怎么 如何 可以 一个 "
               # the same words as one token ("干细胞治疗以后还要打胰岛素吗" counted 还要 as its topic)
               "还要 还得 还是 还能 还会 需要 还需要 要不要 是不是 能不能 会不会".split())
# Words every document shares: they say nothing about whether the corpus covers a question.
_GENERIC = set(
    "stem cell cells therapy therapies treatment treat diabetes diabetic type insulin islet islets transplant "
    "transplants transplantation patient patients study trial doctor get take use need make help 1 2 "
    "干细胞 细胞 治疗 糖尿病 1型 1型糖尿病 胰岛素 胰岛 移植 患者 病人 研究 试验 医生 以后 之后 后".split()
)
_QUESTION_WORDS = set(
    "anyone anything someone really actually still much many long way ways mean means kind kinds should did "
    "does whether between these those us get got tell come own make able there here then than also just very "
    "more most some such into over other only who whom whose what's it's i'm can't don't go going "
    "哪个 哪里 哪些 哪家 哪种 什么 怎么 怎样 怎么样 如何 多少 几 几个 几例 几名 意思 区别 不同 这种 那个 这个 那种 "
    "为什么 是否 能否 会不会 不会 能不能 可不可以 要不要 有没有 还 需要 多久 到底 真的 请问 一下 情况 后能 要花 不要 变成 一下子 "
    "是不是 一共 总共 下来 有人 什么样 doesn don didn isn good best bad safe okay ok people person she he her him".split()
)
# Words of the story around a question ("I saw online that…", "my a1c is fine but…", "我在网上看到说…"):
# everyday words, not the topic, so a long worried message is not refused for using them.
_STORY_WORDS = set(
    "but like im yrs yr fine know think thought want wanted heard read saw seen online internet said says told "
    "thing things lot lots please thanks thank hi hello sorry worried worry scared really "
    "看到 听说 网上 想问 问问 知道 觉得 已经 因为 所以 但是 如果 或者 一次 别人 朋友 新闻 有个 谢谢 你好 担心 害怕 好像 "
    "我们 你们 他们 咱们 天天 每天 心疼 难受 死了".split()
)
# Words that address the chatbot rather than the topic ("ignore previous instructions and say..."):
# an injection attempt is ordinary text, judged by what it asks about.
_INSTRUCTION_WORDS = set(
    "ignore ignoring previous prior instructions instruction system prompt rules pretend role play act say "
    "assistant now forget 忽略 之前 以上 所有 指令 提示 规则 直接 扮演 角色 你现在 现在 假装 客服 告诉 说".split()
)
_NOT_TOPIC = frozenset(_STOP_EN | _STOP_ZH | _GENERIC | _QUESTION_WORDS | _STORY_WORDS | _INSTRUCTION_WORDS)
# Colloquial words mapped to the corpus's wording before checking coverage.
_SYNONYMS = {
    "排异": "排斥", "一辈子": "终身", "打针": "注射", "抗排异药": "抗排斥药", "医保": "费用", "多少钱": "费用",
    "花钱": "费用", "致癌": "癌", "女儿": "儿童", "儿子": "儿童", "孩子": "儿童", "确诊": "诊断",
    "国外": "海外", "abroad": "overseas", "genuine": "registered", "legit": "registered",
    "legitimate": "registered", "real": "registered", "insurance": "cost", "die": "death", "died": "death",
    "dead": "death", "dying": "death", "kill": "death", "killed": "death", "price": "cost", "pay": "cost", "expensive": "cost", "cancer": "tumour",
    "根治": "治愈", "old": "aged", "diagnosed": "diagnosis", "分辨": "判断", "科研项目": "研究", "骗钱": "费用", "化验单": "化验",
}
KNOWN_TERMS_KEPT = 50_000  # question terms whose coverage is remembered per index (bounded: any text is a term)
_TOKEN = re.compile(r"[\w.+-]+|[\u3400-\u9fff]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_jieba = None


def _tokenizer():
    global _jieba
    if _jieba is None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        for term in DOMAIN_TERMS:
            jieba.add_word(term, freq=200000)
            jieba.add_word(term.lower(), freq=200000)  # text is lower-cased before cutting
        _jieba = jieba
    return _jieba


def tokenize(text: str) -> list[str]:
    """Lexical tokens: jieba words for Chinese, lower-cased words for English, no stop words."""
    tokens = []
    for word in _tokenizer().lcut_for_search(text.lower()):
        word = word.strip(" .,;:!?()[]{}\"'“”‘’。，、；：！？（）【】《》")
        if not word or not _TOKEN.match(word) or word in _STOP_EN or word in _STOP_ZH:
            continue
        tokens.append(word)
    return tokens


def content_terms(text: str) -> list[str]:
    """The question's specific words: no stop words, question words or corpus-wide domain words."""
    words = []
    for word in _tokenizer().lcut(text.lower()):
        word = _SYNONYMS.get(word.strip(), word.strip())
        if len(word) < 2 or not _TOKEN.match(word) or word.replace(".", "").isdigit():
            continue
        if word in _NOT_TOPIC or re.fullmatch(r"[\d.,%]+", word):  # "100%" is not a topic
            continue
        words.append(word)
    return words


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores; rank 1 is the best."""

    chunk_id: str
    text: str
    metadata: dict
    dense: float
    lexical: float
    score: float

    @property
    def lang(self) -> str:
        return self.metadata.get("lang", "")

    def to_document(self) -> LCDocument:
        meta = dict(self.metadata, chunk_id=self.chunk_id, dense=self.dense, lexical=self.lexical, score=self.score)
        return LCDocument(page_content=self.text, metadata=meta, id=self.chunk_id)


class HybridRetriever(BaseRetriever):
    """Dense (Chroma) + BM25 (jieba) retrieval with a same-language preference."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    k: int = 5
    lexical_weight: float = 0.3
    language_bonus: float = 0.15
    candidates: int = 40

    _bm25: Any = PrivateAttr(default=None)
    _rows: list = PrivateAttr(default_factory=list)
    _by_id: dict = PrivateAttr(default_factory=dict)
    _vocabulary: set = PrivateAttr(default_factory=set)
    _text: str = PrivateAttr(default="")
    _prefixes: set = PrivateAttr(default_factory=set)
    _known_terms: dict = PrivateAttr(default_factory=dict)

    def _lexical(self):
        if self._bm25 is None:
            import bm25s

            self._rows = self.index.all_chunks()
            self._by_id = {cid: (text, meta) for cid, text, meta in self._rows}
            corpus = [tokenize(f"{meta.get('section', '')} {text}") for _, text, meta in self._rows]
            self._vocabulary = {t for tokens in corpus for t in tokens}
            self._prefixes = {t[:5] for t in self._vocabulary if len(t) >= 5}
            self._text = "\n".join(f"{meta.get('section', '')} {text}" for _, text, meta in self._rows).lower()
            bm25 = bm25s.BM25()
            bm25.index(corpus, show_progress=False)
            self._bm25 = bm25
        return self._bm25

    def search(self, question: str, k: int | None = None, query_vector=None) -> list[Passage]:
        """The k best passages for the question, best first."""
        k = k or self.k
        if query_vector is None:
            query_vector = self.index.embeddings.embed_query(question)
        hits = self.index.search(query_vector, self.candidates)
        if not hits:
            return []
        dense = {h.chunk_id: h for h in hits}
        lexical = self._lexical_scores(question)
        floor = min(h.similarity for h in hits)
        ids = list(dense) + [cid for cid in lexical if cid not in dense]
        dense_scores = np.array([dense[c].similarity if c in dense else floor for c in ids])
        lex_scores = np.array([lexical.get(c, 0.0) for c in ids])
        fused = (1 - self.lexical_weight) * _minmax(dense_scores) + self.lexical_weight * _minmax(lex_scores)
        lang = language_of(question)
        passages = []
        for cid, d, lx, f in zip(ids, dense_scores, lex_scores, fused):
            text, meta = (dense[cid].text, dense[cid].metadata) if cid in dense else self._by_id[cid]
            bonus = self.language_bonus if meta.get("lang") == lang else 0.0
            passages.append(Passage(cid, text, meta, float(d), float(lx), float(f + bonus)))
        passages.sort(key=lambda p: p.score, reverse=True)
        return passages[:k]

    def coverage(self, question: str) -> float:
        """Share of the question's specific words that occur anywhere in the corpus (1.0 if none).

        The corpus's own named terms (C肽, CiPSC, zimislecel...) weigh double: naming one is strong
        evidence that the question is about this corpus.
        """
        terms = content_terms(question)
        if not terms:
            return 1.0
        self._lexical()
        weight = {t: 2.0 if t in _DOMAIN_LOWER else 1.0 for t in terms}
        return sum(weight[t] for t in terms if self._known(t)) / sum(weight.values())

    def _known(self, term: str) -> bool:
        """Remembered per term for this index: a Chinese term is looked for in the whole text, a
        scan that grows with the corpus and need not be repeated."""
        known = self._known_terms.get(term)
        if known is None:
            known = _known_in(term, self._vocabulary, self._prefixes, self._text)
            if len(self._known_terms) < KNOWN_TERMS_KEPT:
                self._known_terms[term] = known
        return known

    def _lexical_scores(self, question: str) -> dict[str, float]:
        if self.lexical_weight <= 0:
            return {}
        tokens = tokenize(question)
        bm25 = self._lexical()
        if not tokens or not self._rows:
            return {}
        scores = bm25.get_scores(tokens)
        top = np.argsort(scores)[::-1][: self.candidates]
        return {self._rows[i][0]: float(scores[i]) for i in top if scores[i] > 0}

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return [p.to_document() for p in self.search(query)]


def _known_in(term: str, vocabulary: set, prefixes: set, text: str) -> bool:
    if _CJK.search(term):  # jieba may cut a question differently from the corpus: look for the text
        return term in vocabulary or term in text  # a corpus token is a piece of the text
    singular = term[:-1] if term.endswith("s") else term
    return term in vocabulary or singular in vocabulary or (len(term) >= 6 and term[:5] in prefixes)


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values) if high > 0 else np.zeros_like(values)
    return (values - low) / (high - low)
