"""The Gradio chat page: streamed, cited replies with label and disclaimer, sources, thumbs."""

from __future__ import annotations

import contextlib
import html
import re
import time

import gradio as gr

from ..answer import Answer
from ..config import Settings
from ..replies import AI_LABEL
from .chat import Chat, RateLimiter, is_emergency, language_of
from .feedback import FeedbackStore, FeedbackUnavailable

NOT_SAVED = "反馈未能保存，请稍后再试。 / Your feedback could not be saved; please try later."

EXAMPLES = [
    "干细胞能治愈1型糖尿病吗？",
    "干细胞治疗有哪些风险？",
    "Can stem cells cure type 1 diabetes?",
    "What did the zimislecel (VX-880) trial find?",
]
# Interface strings; before the first question the page shows both languages.
UI = {
    "zh": {"title": "干细胞治疗1型糖尿病 · 科普问答", "placeholder": "请输入您的问题（中文或英文）", "send": "发送",
           "sources": "参考来源", "comment": "补充意见（可选）", "comment_send": "提交意见",
           "thanks": "谢谢您的反馈。", "busy": "提问过于频繁，请 {wait} 秒后再试。", "resolved": "结合上文理解为："},
    "en": {"title": "Stem-cell therapy for type 1 diabetes: Q&A", "placeholder": "Type your question (English or Chinese)",
           "send": "Send", "sources": "Sources", "comment": "Comment (optional)", "comment_send": "Send comment",
           "thanks": "Thank you for your feedback.", "busy": "Too many questions; please try again in {wait} s.",
           "resolved": "Understood with the earlier question as: "},
}
STREAM_DELAY_S = 0.04
_SENTENCE = re.compile(r".+?(?:[。！？；]|[.!?;](?=\s)|\n|$)", re.S)
# Enough to stop links, images, code and emphasis; URL characters (. - _ / #) stay readable.
_MD_SPECIAL = re.compile(r"([\\`*\[\]])")

CSS = """
#t1d-notice { border-left: 4px solid #b45309; background: #fffbeb; padding: 6px 10px; border-radius: 6px; }
#t1d-notice p { margin: 0; font-size: 0.9em; color: #1f2937; }
#t1d-title h1 { font-size: 1.35em; margin: 0; }
@media (max-width: 640px) { #t1d-title h1 { font-size: 1.1em; } #t1d-notice p { font-size: 0.8em; } }
"""
FONTS = ["system-ui", "-apple-system", "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def theme() -> gr.themes.Base:
    """System fonts only: nothing is fetched from a font CDN."""
    return gr.themes.Default(primary_hue="teal", font=FONTS, font_mono=MONO)


def build_page(chat: Chat, store: FeedbackStore, limiter: RateLimiter, settings: Settings) -> gr.Blocks:
    with gr.Blocks(title=f"{UI['zh']['title']} | {UI['en']['title']}", analytics_enabled=False,
                   fill_height=True) as page:
        gr.Markdown(f"# {UI['zh']['title']} · {UI['en']['title']}", elem_id="t1d-title")
        notice = gr.Markdown(notice_text(settings, None), elem_id="t1d-notice")
        chatbot = gr.Chatbot(
            elem_id="t1d-chat", show_label=False, scale=1, height="60vh", min_height=320,
            examples=[{"text": q} for q in EXAMPLES], feedback_options=("Like", "Dislike"),
            latex_delimiters=[], sanitize_html=True, buttons=["copy"], layout="bubble",
        )
        with gr.Row(equal_height=True):
            box = gr.Textbox(show_label=False, placeholder=f"{UI['zh']['placeholder']} / {UI['en']['placeholder']}",
                             max_length=settings.max_question_chars, lines=1, max_lines=4, scale=8,
                             elem_id="t1d-input", autofocus=True, submit_btn=False)
            send = gr.Button(f"{UI['zh']['send']} / {UI['en']['send']}", variant="primary", scale=1,
                             min_width=90, elem_id="t1d-send")
        with gr.Row(visible=False, elem_id="t1d-comment-row") as comment_row:
            comment = gr.Textbox(label=UI["en"]["comment"], max_lines=3, scale=8, elem_id="t1d-comment")
            comment_send = gr.Button(UI["en"]["comment_send"], scale=1, min_width=90, elem_id="t1d-comment-send")
        thanks = gr.Markdown(visible=False, elem_id="t1d-thanks")

        turns = gr.State([])     # raw {"role", "content"} turns for follow-ups (the chat shows escaped text)
        answers = gr.State({})   # chat message index -> {"answer_id", "language", "question"}
        pending = gr.State("")
        vote_row = gr.State(None)

        def take_question(question: str, messages: list, turns_now: list):
            question = (question if isinstance(question, str) else "")[: settings.max_body_bytes].strip()  # the API's cap
            if not question:
                return "", messages, "", turns_now
            return "", [*messages, {"role": "user", "content": md_escape(question)}], question, turns_now

        def respond(question: str, messages: list, turns_now: list, known: dict, request: gr.Request):
            if not question:
                yield messages, gr.skip(), turns_now, known, gr.skip(), gr.skip()
                return
            wait = 0 if is_emergency(question, settings) else limiter.check(
                getattr(getattr(request, "client", None), "host", None) or "page")
            reply = busy_answer(question, wait, settings) if wait else chat.ask(question, history=turns_now)
            lang = reply.language
            for partial in stream(reply.answer):
                yield [*messages, reply_message(reply, partial)], gr.skip(), turns_now, known, gr.skip(), gr.skip()
            final = [*messages, reply_message(reply, reply.answer), *sources_message(reply)]
            for i in range(len(messages), len(final)):
                known = {**known, i: {"answer_id": reply.answer_id, "language": lang, "question": question}}
            turns_now = [*turns_now, {"role": "user", "content": question},
                         {"role": "assistant", "content": reply.answer}]
            yield (final, notice_text(settings, lang), turns_now, known,
                   gr.update(placeholder=UI[lang]["placeholder"]), gr.update(value=UI[lang]["send"]))

        def ask_events(trigger):
            return trigger(take_question, [box, chatbot, turns], [box, chatbot, pending, turns], queue=False).then(
                respond, [pending, chatbot, turns, answers], [chatbot, notice, turns, answers, box, send])

        ask_events(box.submit)
        ask_events(send.click)
        def pick_example(data: gr.SelectData) -> str:
            return data.value["text"]

        chatbot.example_select(pick_example, None, box, queue=False).then(
            take_question, [box, chatbot, turns], [box, chatbot, pending, turns], queue=False).then(
            respond, [pending, chatbot, turns, answers], [chatbot, notice, turns, answers, box, send])

        def on_vote(known: dict, data: gr.LikeData, request: gr.Request):
            meta = known.get(data.index) or known.get(str(data.index))
            if not meta or data.liked not in (True, False):
                return None, gr.update(visible=False), gr.skip(), gr.skip(), gr.update(visible=False)
            ui = UI[meta["language"]]
            wait = limiter.check(getattr(getattr(request, "client", None), "host", None) or "page")
            try:
                row = None if wait else store.record(meta["answer_id"], "up" if data.liked else "down",
                                                     question=meta["question"], language=meta["language"], channel="page")
            except FeedbackUnavailable:
                row = None
            if row is None:  # limited or not stored: say so, never "thank you"
                return None, gr.update(visible=False), gr.skip(), gr.skip(), gr.update(value=NOT_SAVED, visible=True)
            return (row, gr.update(visible=True), gr.update(label=ui["comment"], value=""),
                    gr.update(value=ui["comment_send"]), gr.update(value=ui["thanks"], visible=True))

        chatbot.like(on_vote, [answers], [vote_row, comment_row, comment, comment_send, thanks], queue=False)

        def on_comment(row, text: str, request: gr.Request):
            client = getattr(getattr(request, "client", None), "host", None) or "page"
            if row is not None and isinstance(text, str) and text.strip() and not limiter.check(client):
                with contextlib.suppress(FeedbackUnavailable):
                    store.add_comment(row, text)
            return None, gr.update(visible=False), gr.update(value="")

        comment_send.click(on_comment, [vote_row, comment], [vote_row, comment_row, comment], queue=False)
        comment.submit(on_comment, [vote_row, comment], [vote_row, comment_row, comment], queue=False)
        chatbot.clear(lambda: ([], {}, None), None, [turns, answers, vote_row], queue=False)
    return page


def notice_text(settings: Settings, language: str | None) -> str:
    """The page-level label and disclaimer, in the question's language (both before the first one)."""
    langs = [language] if language in UI else ["zh", "en"]
    return "\n\n".join(f"**{AI_LABEL[lang]}** · {md_escape(settings.disclaimer(lang))}" for lang in langs)


def reply_message(answer: Answer, text: str) -> dict:
    """Label first, then the (escaped) answer, then the disclaimer: all three in every reply."""
    parts = [f"**{AI_LABEL[answer.language]}**"]
    if answer.resolved_question and answer.resolved_question != answer.question:  # a follow-up
        parts.append(f"*{UI[answer.language]['resolved']}{md_escape(answer.resolved_question)}*")
    parts += [md_escape(text), f"*{md_escape(answer.disclaimer)}*"]
    return {"role": "assistant", "content": "\n\n".join(parts)}


def sources_message(answer: Answer) -> list[dict]:
    """A collapsible panel under the answer: title, section, quote and the paper's citation/DOI."""
    if not answer.citations:
        return []
    items = [
        f"**[{c.n}] {md_escape(c.title)}**  \n{md_escape(c.section)}  \n“{md_escape(one_line(c.quote))}”  \n"
        f"{md_escape(c.source)}" for c in answer.citations
    ]
    title = f"{UI[answer.language]['sources']} ({len(answer.citations)})"
    return [{"role": "assistant", "content": "\n\n".join(items), "metadata": {"title": title, "status": "done"}}]


def busy_answer(question: str, wait: int, settings: Settings) -> Answer:
    lang = language_of(question)
    return Answer(question=question, language=lang, kind="no_answer", answer=UI[lang]["busy"].format(wait=wait),
                  disclaimer=settings.disclaimer(lang), ai_label=AI_LABEL[lang])


def stream(text: str):
    """The reply sentence by sentence (the extractive answer is ready at once; this paces it)."""
    shown = ""
    for sentence in _SENTENCE.findall(text):
        shown += sentence
        yield shown
        time.sleep(STREAM_DELAY_S)


def md_escape(text: str) -> str:
    """Show text as text: HTML escaped, and the Markdown that makes links, images or code backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text or "", quote=False))


def one_line(text: str) -> str:
    return " ".join((text or "").split())
