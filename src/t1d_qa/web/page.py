"""The chat page at /chat/, the widget script, and read-only source pages at /sources/<doc_id>.

The page and the widget are one client (static/widget.js; the page runs it with data-mode="page"),
so emergencies, outages, sources and accessibility behave the same on both. The server writes its
settings and fixed texts into the script when it serves it: the client never keeps its own copy of
the emergency reply, and when the server is down or slow it shows the server's current text.
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from importlib.resources import files

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


def page_html(settings: Settings, lang: str) -> str:
    e = html.escape
    description = DESCRIPTION[lang] + (f" · {settings.clinic_name}" if settings.clinic_name else "")
    both = f"{TITLE['zh']} | {TITLE['en']}"
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{e(TITLE[lang])}</title>
<meta name="description" content="{e(description)}">
<meta property="og:type" content="website">
<meta property="og:title" content="{e(both)}">
<meta property="og:description" content="{e(description)}">
<meta name="twitter:card" content="summary">
<meta name="theme-color" content="#0f766e">
<script src="../widget.js" data-mode="page" data-target="t1d-qa" defer></script>
</head>
<body>
<main id="t1d-qa"><noscript><p>{e(NOSCRIPT[lang].format(number=settings.emergency_number))}</p></noscript></main>
</body>
</html>
"""


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
    """GET /chat/, /widget.js, /sources/<doc_id> and its style sheet."""
    router = APIRouter()
    script = widget_script(settings)

    @cache
    def documents() -> dict[str, Document]:
        return {doc.id: doc for doc in load_corpus(settings.corpus_dir)}

    @router.get(PAGE_PATH, include_in_schema=False)
    async def page_redirect() -> RedirectResponse:
        return RedirectResponse(PAGE_PATH.rsplit("/", 1)[-1] + "/")  # relative: works under a proxy prefix

    @router.get(PAGE_PATH + "/", include_in_schema=False)
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(page_html(settings, page_language(request)),
                            headers={"Vary": "Accept-Language", "Cache-Control": "no-cache"})

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
