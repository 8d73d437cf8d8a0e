"""The HTTP API, CORS, limits and the feedback store, on the real pipeline (no browser here)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import make_settings
from t1d_qa import replies, safety
from t1d_qa.config import ConfigError
from t1d_qa.corpus import Document
from t1d_qa.web import page as page_mod
from t1d_qa.web.chat import RateLimiter, recent
from t1d_qa.web.feedback import FeedbackStore
from t1d_qa.web.server import create_app

SITE = "http://localhost:8123"
ANSWER_KEYS = {"id", "answer_id", "question", "resolved_question", "language", "kind", "answer", "citations",
               "disclaimer", "ai_label", "retrieved", "latency_ms", "source", "entry_id", "reviewed", "entries",
               "suggestions"}
CITATION_KEYS = {"n", "chunk_id", "doc_id", "title", "section", "source", "quote", "reviewed", "as_of"}


def client_for(pipeline, data_dir: Path, **overrides) -> TestClient:
    settings = make_settings(data_dir, **{"allowed_origins": (SITE,), **overrides})
    client = TestClient(create_app(settings, pipeline))
    client.store = FeedbackStore(settings.feedback_db)  # the same file the app writes
    client.app_settings = settings
    return client


@pytest.fixture(scope="module")
def client(pipeline, tmp_path_factory):
    return client_for(pipeline, tmp_path_factory.mktemp("web"), rate_limit_per_minute=1000)


def test_ask_returns_the_cli_json_object(client, pipeline):
    reply = client.post("/api/ask", json={"question": "干细胞能治愈1型糖尿病吗？"})
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == ANSWER_KEYS == set(pipeline.ask("x").to_dict())
    assert body["language"] == "zh" and body["kind"] == "answer"
    assert body["citations"] and set(body["citations"][0]) == CITATION_KEYS
    assert body["disclaimer"] and body["ai_label"] == "AI生成内容"


def test_ask_resolves_a_follow_up_against_history(client):
    history = [{"role": "user", "content": "What did the zimislecel (VX-880) trial find?"},
               {"role": "assistant", "content": [{"type": "text", "text": "The trial ... [1]"}]}]
    body = client.post("/api/ask", json={"question": "What about its risks?", "history": history}).json()
    assert "zimislecel" in body["resolved_question"]
    assert body["kind"] == "answer" and body["citations"]


def test_emergency_question_gets_the_emergency_reply(client):
    body = client.post("/api/ask", json={"question": "我血糖2.1，快昏迷了怎么办"}).json()
    assert body["kind"] == "emergency" and "120" in body["answer"] and body["disclaimer"]


@pytest.mark.parametrize("question", ["", "   ", "\n"])
def test_empty_question_is_400(client, question):
    reply = client.post("/api/ask", json={"question": question})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "empty_question"


def test_too_long_question_is_400_with_the_safe_reply(client):
    reply = client.post("/api/ask", json={"question": "a" * 2500})
    assert reply.status_code == 400
    body = reply.json()
    assert body["error"]["code"] == "invalid_question" and body["kind"] == "invalid" and body["disclaimer"]


def test_oversized_body_is_413(client):
    reply = client.post("/api/ask", content=json.dumps({"question": "x" * 20_000}),
                        headers={"Content-Type": "application/json"})
    assert reply.status_code == 413 and reply.json()["error"]["code"] == "body_too_large"


def test_oversized_chunked_body_is_413(client):
    def chunks():
        yield b'{"question": "'
        for _ in range(40):
            yield b"x" * 1000
        yield b'"}'

    reply = client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 413


@pytest.mark.parametrize("body", [
    b"{not json", b"\xff\xfe", b'"just a string"', b"[1, 2]", b'{"question": 42}', b'{"history": []}',
    b'{"question": "hi", "history": "nope"}', b'{"question": "hi", "history": [{"role": "system", "content": "x"}]}',
    b'{"question": "hi", "history": [{"role": "user"}]}', b'{"question": "hi", "id": {"a": 1}}',
])
def test_malformed_body_is_422(client, body):
    reply = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 422
    assert reply.json()["error"]["code"].startswith("malformed")


def test_rate_limit_gives_429_with_retry_after(pipeline, tmp_path):
    limited = client_for(pipeline, tmp_path, rate_limit_per_minute=3)
    codes = [limited.post("/api/ask", json={"question": ""}).status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    reply = limited.post("/api/ask", json={"question": "干细胞治疗有哪些风险？"})
    assert reply.status_code == 429 and reply.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert limited.get("/api/health").status_code == 200  # health is never limited


def test_emergency_is_answered_even_over_the_rate_limit(pipeline, tmp_path):
    limited = client_for(pipeline, tmp_path, rate_limit_per_minute=1)
    assert limited.post("/api/ask", json={"question": "干细胞治疗有哪些风险？"}).status_code == 200
    assert limited.post("/api/ask", json={"question": "What is C-peptide?"}).status_code == 429
    reply = limited.post("/api/ask", json={"question": "My son passed out and his sugar is low"})
    assert reply.status_code == 200 and reply.json()["kind"] == "emergency"


def test_rate_limiter_window_slides():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.check("a"), limiter.check("a"), limiter.check("b")] == [0, 0, 0]
    assert limiter.check("a") == 60
    now[0] = 45.5
    assert limiter.check("a") == 15
    now[0] = 60.0
    assert limiter.check("a") == 0


def test_cors_preflight_allows_the_clinic_origin_only(client):
    ok = client.options("/api/ask", headers={"Origin": SITE, "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "content-type"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == SITE
    denied = client.options("/api/ask", headers={"Origin": "https://evil.example",
                                                 "Access-Control-Request-Method": "POST"})
    assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers


def test_cors_on_requests(client):
    ok = client.post("/api/ask", json={"question": "干细胞治疗有哪些风险？"}, headers={"Origin": SITE})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == SITE
    denied = client.post("/api/ask", json={"question": "hi"}, headers={"Origin": "https://evil.example"})
    assert denied.status_code == 403 and "access-control-allow-origin" not in denied.headers
    assert denied.json()["error"]["code"] == "origin_not_allowed"
    same = client.post("/api/ask", json={"question": ""}, headers={"Origin": "http://testserver"})
    assert same.status_code == 400  # the page's own origin passes the origin check


def test_chat_page_is_gradio_hosting_the_widgets_client(client):
    zh = client.get("/chat/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert zh.status_code == 200 and "window.gradio_config" in zh.text and '<html lang="zh-CN"' in zh.text
    assert '<html lang="en"' in client.get("/chat/", headers={"Accept-Language": "en-US"}).text
    config = client.get("/chat/config").json()
    assert 'src="../widget.js" data-mode="page"' in config["head"]  # the page runs the widget's client
    assert config["dependencies"] == []  # no Gradio handlers: the client asks through /api/ask
    assert [c["props"]["elem_id"] for c in config["components"] if c["props"].get("elem_id")] == ["t1d-qa"]
    metas = re.findall(r"<meta[^>]*>", zh.text, re.S)
    assert not [m for m in metas if "http://" in m or "https://" in m or ":image" in m or "Gradio" in m], metas
    assert 'property="og:title" content="干细胞治疗1型糖尿病' in zh.text
    assert 'rel="manifest"' not in zh.text and client.get("/manifest.json").status_code == 404
    assert "<noscript><p>" in zh.text and "120" in zh.text.split("<noscript>")[1].split("</noscript>")[0]
    assert client.get("/chat", follow_redirects=False).headers["location"] == "chat/"
    assert client.get("/favicon.ico").status_code == 204


def test_health_page_and_widget_are_served(client):
    assert client.get("/api/health").json()["status"] == "ok"
    assert client.get("/", follow_redirects=False).headers["location"] == "chat/"
    assert client.get("/chat/").status_code == 200
    widget = client.get("/widget.js")
    assert widget.status_code == 200 and widget.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in widget.text and "http://" not in widget.text and "https://" not in widget.text
    assert client.get("/docs").status_code == 404  # FastAPI's docs page loads scripts from a CDN


def test_feedback_api_stores_the_vote_without_ip_or_question(client):
    signed = client.post("/api/ask", json={"question": "干细胞治疗有哪些风险？"}).json()["answer_id"]
    reply = client.post("/api/feedback", json={"answer_id": signed, "vote": "down", "comment": "too short",
                                               "question": "secret?"})
    assert reply.status_code == 201
    [row] = [r for r in client.store.rows() if r["id"] == reply.json()["id"]]
    assert (row["answer_id"], row["vote"], row["comment"], row["question"]) == (
        signed.rsplit("-", 1)[0], "down", "too short", None)
    assert "testclient" not in json.dumps(row)
    for bad in ({"answer_id": "abc", "vote": "meh"}, {"answer_id": "<script>", "vote": "up"}, {"vote": "up"}):
        assert client.post("/api/feedback", json=bad).status_code == 422


def test_feedback_store_keeps_question_only_when_enabled(tmp_path):
    off = FeedbackStore(tmp_path / "off.sqlite3")
    row = off.record("a1", "up", comment=" fine ", question="my question", language="en")
    off.add_comment(row, "more detail")
    [stored] = off.rows()
    assert stored["answer_id"] == "a1" and stored["vote"] == "up" and stored["question"] is None
    assert stored["comment"] == "more detail" and stored["created_at"].endswith("+00:00")
    on = FeedbackStore(tmp_path / "on.sqlite3", store_question_text=True)
    on.record("a2", "down", question="my question")
    assert on.rows()[0]["question"] == "my question"
    columns = {r[1] for r in sqlite3.connect(tmp_path / "on.sqlite3").execute("PRAGMA table_info(feedback)")}
    assert not {"ip", "client", "host", "address"} & columns
    with pytest.raises(ValueError):
        on.record("a3", "sideways")


def test_history_is_trimmed_to_recent_plain_turns():
    history = [{"role": "user", "content": f"q{i}"} for i in range(10)]
    history += [{"role": "assistant", "content": [{"type": "text", "text": "a"}]}, {"role": "system", "content": "x"}]
    turns = recent(history)
    assert len(turns) == 6 and turns[-1] == {"role": "assistant", "content": "a"}


def served_config(client) -> dict:
    text = client.get("/widget.js").text
    return json.loads(text.split("var SERVER = ", 1)[1].split(";\n", 1)[0])


def test_widget_carries_the_servers_fixed_texts_and_settings(pipeline, tmp_path):
    custom = client_for(pipeline, tmp_path, emergency_number="999", crisis_line="400-000", clinic_name="Clinic <b>",
                        client_timeout_s=7, privacy_url="/privacy")
    config = served_config(custom)
    for lang in ("zh", "en"):
        assert config["replies"]["emergency"][lang] == replies.emergency("", frozenset(), lang, "999", "400-000")
        assert config["replies"]["crisis"][lang] == replies.emergency("self_harm", frozenset(), lang, "999", "400-000")
        assert "400-000" in config["replies"]["crisis"][lang]
        assert config["replies"]["error"][lang] == replies.text("error", lang, number="999")
    assert (config["number"], config["clinic"], config["timeout_ms"], config["privacy_url"]) == (
        "999", "Clinic <b>", 7000, "/privacy")
    assert "<b>" not in custom.get("/widget.js").text  # escaped for the script context
    assert set(config["danger"]) == set(page_mod.danger_words()) and config["reviewed"]["safety-en"]


# Sentences that put each danger word in a situation; the server's screen must call them emergencies.
DANGER_TEMPLATES = {"emergency": {"zh": "我家孩子{}了，怎么办？", "en": "Help, my son {} and I am scared, what do I do?"},
                    "crisis": {"zh": "我最近很难受，{}了", "en": "I feel hopeless, I keep thinking I {}"}}


def test_danger_words_are_emergencies_for_the_server_too():
    """The client's outage check never raises an alarm the server's screen would not raise."""
    groups = page_mod.danger_words()
    assert set(groups) == set(DANGER_TEMPLATES)
    for name, group in groups.items():
        for lang in ("zh", "en"):
            assert group[lang]
            for word in group[lang]:
                screen = safety.screen(DANGER_TEMPLATES[name][lang].format(word), 2000)
                assert screen.kind == "emergency", (name, word)
                assert not group["rule"] or screen.rule == group["rule"], (name, word, screen.rule)


def test_source_page_shows_the_document_escaped_with_section_anchors(client, tmp_path):
    page = client.get("/sources/safety-en")
    assert page.status_code == 200 and '<html lang="en">' in page.text and "<script" not in page.text
    assert 'id="Never-stop,-skip-or-change-insulin' in page.text
    assert client.get("/sources/no-such-doc").status_code == 404
    assert client.get("/sources.css").headers["content-type"].startswith("text/css")
    doc = Document(id="x-en", title="T <script>alert(1)</script>", lang="en", kind="article", source="s & t",
                   reviewed="2026-01-01", body="# T\n\n## A <b> section\n\nText <img src=x onerror=alert(1)>\n",
                   path=tmp_path / "x.md")
    html = page_mod.source_html(doc)
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert 'id="A-&lt;b&gt;-section"' in html and "&lt;img src=x" in html


def test_a_comment_joins_the_vote_it_belongs_to(client):
    mine, other = (client.post("/api/ask", json={"question": q}).json()["answer_id"]
                   for q in ("What is C-peptide?", "干细胞治疗有哪些风险？"))
    vote = client.post("/api/feedback", json={"answer_id": mine, "vote": "up", "channel": "page"}).json()
    client.post("/api/feedback", json={"answer_id": other, "vote": "up", "comment": "hijack", "row": vote["id"]})
    client.post("/api/feedback", json={"answer_id": mine, "vote": "up", "comment": "clear", "row": vote["id"]})
    [row] = [r for r in client.store.rows() if r["id"] == vote["id"]]
    assert (row["comment"], row["channel"]) == ("clear", "page")


@pytest.mark.parametrize("setting", [{"client_timeout_s": 0}, {"client_timeout_s": 500},
                                     {"privacy_url": "javascript:alert(1)"}])
def test_web_client_settings_are_checked(tmp_path, setting):
    with pytest.raises(ConfigError):
        make_settings(tmp_path, **setting)


def test_serve_uses_settings_for_host_and_port(monkeypatch, settings, pipeline):
    from t1d_qa.web import server

    calls = {}
    monkeypatch.setattr(server.Pipeline, "load", classmethod(lambda cls, s, announce=print: pipeline))
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **kw: calls.update(kw, app=app))
    assert server.serve(settings) == 0
    assert (calls["host"], calls["port"], calls["workers"]) == ("127.0.0.1", 7860, 1)
    server.serve(settings, host="0.0.0.0", port=9001)
    assert (calls["host"], calls["port"]) == ("0.0.0.0", 9001)


# -- hostile input: every door has the same limits, every error is JSON, headers everywhere


def test_feedback_only_for_answers_this_service_gave(client):
    signed = client.post("/api/ask", json={"question": "What is C-peptide?"}).json()["answer_id"]
    forged = signed[:-1] + ("0" if signed[-1] != "0" else "1")
    for answer_id in ("abc123", forged, signed.rsplit("-", 1)[0]):
        reply = client.post("/api/feedback", json={"answer_id": answer_id, "vote": "up"})
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "unknown_answer"


def test_feedback_store_failure_is_503_not_thanks(pipeline, tmp_path):
    web = client_for(pipeline, tmp_path, rate_limit_per_minute=1000)
    signed = web.post("/api/ask", json={"question": "What is C-peptide?"}).json()["answer_id"]
    db = tmp_path / "feedback.sqlite3"
    db.unlink()
    db.mkdir()  # a path sqlite cannot open: what a read-only or vanished store looks like
    reply = web.post("/api/feedback", json={"answer_id": signed, "vote": "up"})
    assert reply.status_code == 503 and reply.json()["error"]["code"] == "feedback_unavailable"


@pytest.mark.parametrize("body", [
    b'{"question": "\\ud800"}', b'{"question": "hi", "id": "\\udc00"}',
    b'{"question": "hi", "history": [{"role": "user", "content": "\\ud83d"}]}',
    b"[" * 1000 + b"]" * 1000, b"[" * 100 + b"]" * 100, b"[" + b"1" * 4301 + b"]", b'{"question": ' + b"9" * 5000 + b"}",
])
def test_crafted_json_is_422_json_never_500(client, body):
    for path in ("/api/ask", "/api/feedback"):
        reply = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert reply.status_code == 422, (path, reply.text[:200])
        assert reply.json()["error"]["code"] == "malformed_json"


def test_feedback_comment_with_lone_surrogate_is_refused(client):
    signed = client.post("/api/ask", json={"question": "What is C-peptide?"}).json()["answer_id"]
    body = b'{"answer_id": "' + signed.encode() + b'", "vote": "up", "comment": "\\ud83d"}'
    reply = client.post("/api/feedback", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 422


def test_page_routes_take_no_bodies_and_upload_is_closed(client):
    upload = client.post("/chat/gradio_api/upload", files={"files": ("big.bin", b"x" * 4096)})
    assert upload.status_code == 404 and upload.json()["error"]["code"] == "not_found"
    for path in ("/chat/gradio_api/run/predict", "/chat/gradio_api/queue/join", "/chat/", "/chat"):
        huge = client.post(path, content=b'{"data": ["' + b"x" * 2_000_000 + b'"]}',
                           headers={"Content-Type": "application/json"})
        assert huge.status_code == 405 and huge.json()["error"]["code"] == "method_not_allowed"
    elsewhere = client.post("/sources/safety-en", content=b"x" * 100_000)
    assert elsewhere.status_code == 413 and elsewhere.json()["error"]["code"] == "body_too_large"


@pytest.mark.parametrize("path", ["/chat/", "/chat/config", "/widget.js", "/api/health", "/api/openapi.json", "/",
                                  "/nowhere"])
def test_security_headers_on_every_route(client, path):
    reply = client.get(path, follow_redirects=False)
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    csp = reply.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {SITE}" in csp and "default-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_page_inline_scripts_are_allowed_by_hash_only(client):
    import base64
    import hashlib

    reply = client.get("/chat/")
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", reply.text, re.S)
    assert inline
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in reply.headers["content-security-policy"]


@pytest.mark.parametrize("name", ["take_question", "respond", "on_vote", "predict", "0"])
def test_the_gradio_page_has_no_handler_to_call(client, name):
    for path in (f"/chat/gradio_api/run/{name}", f"/chat/gradio_api/call/{name}", f"/chat/gradio_api/api/{name}"):
        reply = client.post(path, json={"data": ["x" * 10_000, [], []], "session_hash": "s1"})
        assert reply.status_code == 405 and reply.json()["error"]["code"] == "method_not_allowed"
    for path in ("/chat/gradio_api/info", "/chat/config", "/chat/theme.css", f"/chat/gradio_api/file={name}"):
        reply = client.get(path)
        assert reply.status_code < 500, (path, reply.status_code, reply.text[:200])


def test_page_votes_take_the_apis_limits_and_are_never_thanked_unsaved(pipeline, tmp_path):
    web = client_for(pipeline, tmp_path, rate_limit_per_minute=4)
    signed = web.post("/api/ask", json={"question": "What is C-peptide?"}).json()["answer_id"]  # 1 of 4
    replies_ = [web.post("/api/feedback", json={"answer_id": signed, "vote": "up", "channel": "page"})
                for _ in range(5)]
    assert [r.status_code for r in replies_] == [201, 201, 201, 429, 429]
    assert [r["channel"] for r in web.store.rows()] == ["page"] * 3


def test_the_page_is_hashed_whatever_the_browser_accepts(client):
    """Gradio compresses its page with brotli when asked; the guard must still see the inline scripts."""
    reply = client.get("/chat/", headers={"Accept-Encoding": "br, gzip"})
    assert reply.headers.get("content-encoding") in ("gzip", None)
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", reply.text, re.S)
    assert len(inline) >= 3
    policy = reply.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    assert policy.count("'sha256-") == len(inline)
