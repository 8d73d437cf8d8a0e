"""The chat page at /chat/ (a Gradio Blocks app), the widget script, and read-only source pages.

The page and the widget are one client (static/widget.js; the page runs it with data-mode="page"),
so emergencies, outages, sources and accessibility behave the same on both. Gradio hosts the page:
its Blocks app holds one empty column the client mounts into, loads the client through Gradio's
`head`, and has no event handlers of its own (the client asks through /api/ask, like the widget).
The server writes its settings and fixed texts into the script when it serves it: the client never
keeps its own copy of the emergency reply, and when the server is down or slow it shows the
server's current text.
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from importlib.resources import files

import gradio as gr
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import replies
from ..config import Settings
from ..corpus import Document, blocks, load_corpus, sections

PAGE_PATH = "/chat"
CONFIG_SLOT = "/*t1d-qa:config*/null"  # where widget.js receives the server's settings
TITLE = {"zh": "干细胞治疗1型糖尿病 · 问答", "en": "Stem-cell therapy for type 1 diabetes: Q&A"}
DESCRIPTION = {
    "zh": "关于干细胞治疗1型糖尿病的科普问答：根据经过审核的资料自动回答，标明出处，不构成医疗建议。",
    "en": "Questions and answers about stem-cell therapy for type 1 diabetes, answered automatically from "
          "reviewed sources with citations. Not medical advice.",
}
NOSCRIPT = {
    "zh": "本问答需要启用JavaScript。如遇紧急情况，请立即拨打 {number}。",
    "en": "This Q&A needs JavaScript. In an emergency call {number} now.",
}
SOURCE_PAGE = {
    "zh": {"reviewed": "审核日期：", "source": "出处：", "note": "只读原文，供核对问答中引用的段落。"},
    "en": {"reviewed": "Reviewed: ", "source": "Source: ", "note": "Read-only source text, to check the passages the Q&A quotes."},
}


def danger_words() -> dict:
    """The groups of static/danger-words.json: {name: {"rule", "zh", "en"}} (keys starting with "_" are notes)."""
    raw = json.loads(files("t1d_qa.web").joinpath("static/danger-words.json").read_text(encoding="utf-8"))
    return {key: {"rule": v.get("rule", ""), "zh": list(v.get("zh", [])), "en": list(v.get("en", []))}
            for key, v in raw.items() if not key.startswith("_")}


def client_config(settings: Settings) -> dict:
    """What the page and widget need to know from the server, including the texts for an outage.

    The emergency texts are the server's own (replies.emergency for each group's rule, with the
    configured numbers and no place named), so the client never keeps a copy that could go stale.
    """
    danger = danger_words()
    both = ("zh", "en")
    texts = {"error": {lang: replies.text("error", lang, number=settings.emergency_number) for lang in both}}
    for key, group in {"emergency": {"rule": ""}, **danger}.items():
        texts[key] = {lang: replies.emergency(group["rule"], frozenset(), lang, settings.emergency_number,
                                              settings.crisis_line) for lang in both}
    danger = {key: {"zh": group["zh"], "en": group["en"]} for key, group in danger.items()}
    return {
        "number": settings.emergency_number,
        "clinic": settings.clinic_name,
        "contact": settings.clinic_contact,
        "privacy_url": settings.privacy_url,
        "stores_questions": settings.store_question_text,
        "timeout_ms": int(settings.client_timeout_s * 1000),
        "max_chars": settings.max_question_chars,
        "replies": texts,
        "danger": danger,
        "reviewed": {doc.id: str(doc.reviewed) for doc in load_corpus(settings.corpus_dir) if doc.reviewed},
    }


def widget_script(settings: Settings) -> bytes:
    script = files("t1d_qa.web").joinpath("static/widget.js").read_text(encoding="utf-8")
    if CONFIG_SLOT not in script:
        raise RuntimeError("widget.js has lost its configuration slot " + CONFIG_SLOT)
    return script.replace(CONFIG_SLOT, script_json(client_config(settings)), 1).encode()


def script_json(value) -> str:
    """JSON that is safe inside a script: no '<', '>' or '&' that could close or open a tag."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_language(request: Request) -> str:
    first = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


# -- the Gradio page

# Loaded through Gradio's `head` (Gradio adds it to the page by script, with these attributes);
# relative to the page, so it works under a proxy prefix too.
HEAD = '<script src="../widget.js" data-mode="page" data-target="t1d-qa" defer></script>'
FONTS = ["system-ui", "-apple-system", "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
# Gradio's frame around the one column: no padding, no border, the conversation fills the screen
# and only the conversation scrolls (phone first).
CSS = """
html, body { height: 100%; overflow: hidden; background: #f3f4f6; }
gradio-app, .gradio-container { background: #f3f4f6 !important; }
.gradio-container { padding: 0 !important; margin: 0 !important; max-width: none !important; min-height: 0 !important; }
.gradio-container .main, .gradio-container .wrap, .gradio-container .contain { padding: 0 !important; margin: 0 !important; gap: 0 !important; }
#t1d-qa { display: block; height: 100dvh; width: 100%; max-width: 820px; margin: 0 auto; padding: 0; border: 0; gap: 0; }
"""


def theme() -> gr.themes.Base:
    """System fonts only: nothing is fetched from a font CDN."""
    return gr.themes.Default(primary_hue="teal", font=FONTS, font_mono=MONO)


def build_page() -> gr.Blocks:
    """One empty column with the id the client looks for; no Gradio handlers, nothing to call."""
    with gr.Blocks(title=f"{TITLE['zh']} | {TITLE['en']}", analytics_enabled=False, fill_height=True,
                   fill_width=True) as page:
        gr.Column(elem_id="t1d-qa")
    return page


def mount_options() -> dict:
    """Everything gr.mount_gradio_app needs besides the app, the Blocks and the path."""
    return {"footer_links": [], "run_history": False, "ssr_mode": False, "theme": theme(), "css": CSS,
            "head": HEAD, "max_file_size": 1, "pwa": False}


# Gradio's page template carries Gradio's social metadata (title "Gradio", images on github.com),
# `lang="en"` whatever the language, and a link to /manifest.json (404 under a mount). PageHead
# replaces these in the page as served.
_GRADIO_META = re.compile(r'\s*<meta\s+(?:property="og:|name="twitter:)[^>]*>', re.S)
_MANIFEST = re.compile(r'\s*<link\s+rel="manifest"[^>]*>', re.S)
_HTML_LANG = re.compile(r'<html\s+lang="[^"]*"', re.S)


def page_head(settings: Settings, lang: str) -> str:
    """Our own description and social metadata, in the page's language; no images, no foreign hosts."""
    e = html.escape
    description = DESCRIPTION[lang] + (f" · {settings.clinic_name}" if settings.clinic_name else "")
    return (f'\n<meta name="description" content="{e(description)}">'
            f'\n<meta property="og:type" content="website">'
            f'\n<meta property="og:title" content="{e(TITLE["zh"])} | {e(TITLE["en"])}">'
            f'\n<meta property="og:description" content="{e(description)}">'
            f'\n<meta name="twitter:card" content="summary">'
            f'\n<meta name="theme-color" content="#0f766e">')


def rewrite_page(text: str, settings: Settings, lang: str) -> str:
    text = _MANIFEST.sub("", _GRADIO_META.sub("", text))
    text = _HTML_LANG.sub(f'<html lang="{"zh-CN" if lang == "zh" else "en"}"', text, count=1)
    text = text.replace("</head>", page_head(settings, lang) + "\n</head>", 1)
    noscript = html.escape(NOSCRIPT[lang].format(number=settings.emergency_number))
    return re.sub(r"(<body[^>]*>)", lambda m: f"{m.group(1)}\n<noscript><p>{noscript}</p></noscript>", text, count=1)


class PageHead:
    """ASGI middleware for the one Gradio page at `path`: rewrites its head (see rewrite_page)."""

    def __init__(self, app, settings: Settings, path: str):
        self.app, self.settings, self.path = app, settings, path

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        lang = page_language(Request(scope))
        start, body = None, bytearray()

        async def hold(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                return await send(message)
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            headers, out = start["headers"], bytes(body)
            if start["status"] == 200 and dict(headers).get(b"content-type", b"").startswith(b"text/html"):
                out = rewrite_page(out.decode("utf-8"), self.settings, lang).encode("utf-8")
                headers = [(k, v) for k, v in headers if k.lower() not in (b"vary", b"cache-control")]
                headers += [(b"vary", b"Accept-Language"), (b"cache-control", b"no-cache")]
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(out)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": out})

        await self.app(scope, receive, hold)


def source_html(doc: Document) -> str:
    """One corpus document as a read-only page; every section has the id the client links to."""
    e, lang = html.escape, "zh" if doc.lang == "zh" else "en"
    words = SOURCE_PAGE[lang]
    parts = [f"<h1>{e(doc.title)}</h1>", f"<p class=\"meta\">{e(words['note'])}</p>"]
    if doc.reviewed:
        parts.append(f"<p class=\"meta\">{e(words['reviewed'])}{e(str(doc.reviewed))}</p>")
    parts.append(f"<p class=\"meta\">{e(words['source'])}{e(doc.source)}</p>")
    for path, text in sections(doc.body):
        names = path.split(" > ")
        level = min(len(names), 6)
        heading = f"<h{level}>{e(names[-1])}</h{level}>" if level > 1 else ""
        body = "".join(block_html(b) for b in blocks(text))
        parts.append(f"<section id=\"{e(anchor(path))}\">{heading}{body}</section>")
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{e(doc.title)}</title>
<link rel="stylesheet" href="../sources.css">
</head>
<body>
<main>
{chr(10).join(parts)}
</main>
</body>
</html>
"""


def anchor(section: str) -> str:
    """The fragment for a section path: its last heading, whitespace to '-' (widget.js makes the same)."""
    return re.sub(r"\s+", "-", section.split(" > ")[-1].strip())


_LIST_MARK = re.compile(r"^([-*]|\d+\.)\s+")


def block_html(block: str) -> str:
    e, lines = html.escape, [line.strip() for line in block.splitlines() if line.strip()]
    if lines and all(line.startswith("|") for line in lines):
        rows = [[e(cell.strip()) for cell in line.strip("|").split("|")] for line in lines
                if not re.fullmatch(r"\|[\s:|-]+\|", line)]
        head, *body = rows or [[]]
        cells = "".join(f"<th>{c}</th>" for c in head)
        rest = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in body)
        return f"<table><thead><tr>{cells}</tr></thead><tbody>{rest}</tbody></table>"
    if lines and all(_LIST_MARK.match(line) for line in lines):
        tag = "ol" if lines[0][0].isdigit() else "ul"
        items = "".join(f"<li>{e(_LIST_MARK.sub('', line))}</li>" for line in lines)
        return f"<{tag}>{items}</{tag}>"
    return f"<p>{e(' '.join(lines) if lang_is_latin(block) else ''.join(lines))}</p>"


def lang_is_latin(text: str) -> bool:
    return not re.search(r"[\u3400-\u9fff]", text)


SOURCES_CSS = """
body { margin: 0; font: 17px/1.65 system-ui, -apple-system, 'Segoe UI', 'PingFang SC', 'Microsoft YaHei',
  'Noto Sans CJK SC', sans-serif; color: #111827; background: #fff; }
main { max-width: 760px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.4em; line-height: 1.3; } h2 { font-size: 1.2em; margin-top: 1.6em; } h3 { font-size: 1.05em; }
.meta { color: #374151; font-size: 0.9em; margin: 4px 0; }
section { scroll-margin-top: 12px; border-radius: 8px; padding: 0 8px; }
section:target { background: #fef9c3; outline: 2px solid #ca8a04; }
table { border-collapse: collapse; display: block; overflow-x: auto; font-size: 0.9em; }
th, td { border: 1px solid #d1d5db; padding: 4px 8px; text-align: left; vertical-align: top; }
"""


def build_router(settings: Settings) -> APIRouter:
    """GET /chat (to /chat/, Gradio's page), /widget.js, /sources/<doc_id> and its style sheet."""
    router = APIRouter()
    script = widget_script(settings)

    @cache
    def documents() -> dict[str, Document]:
        return {doc.id: doc for doc in load_corpus(settings.corpus_dir)}

    @router.get(PAGE_PATH, include_in_schema=False)
    async def page_redirect() -> RedirectResponse:
        return RedirectResponse(PAGE_PATH.rsplit("/", 1)[-1] + "/")  # relative: works under a proxy prefix

    @router.get("/widget.js", include_in_schema=False)
    async def widget() -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})

    @router.get("/sources/{doc_id}", include_in_schema=False)
    async def source(doc_id: str) -> HTMLResponse:
        doc = documents().get(doc_id)
        if doc is None:
            return HTMLResponse("<!doctype html><title>404</title><p>Not found / 未找到</p>", status_code=404)
        return HTMLResponse(source_html(doc), headers={"Cache-Control": "public, max-age=300"})

    @router.get("/sources.css", include_in_schema=False)
    async def source_css() -> Response:
        return Response(SOURCES_CSS, media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})

    @router.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)  # no icon, and no 404 on every page load

    return router
