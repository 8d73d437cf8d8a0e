"""Property tests (hypothesis): the screen, the chunker, the HTTP API and the chat page's Gradio
routes never crash on any input; the API never answers 500 or anything but JSON."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_settings
from t1d_qa import safety
from t1d_qa.corpus import CorpusError, chunk_document, load_document, split_sentences
from t1d_qa.web.server import create_app

FAST = settings(max_examples=150, deadline=None)
SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Text a patient, a fuzzer or a pasted document might send: any Unicode, with the CJK, emoji,
# control and bidi characters that break naive code over-weighted.
TEXT = st.text(st.one_of(st.characters(), st.sampled_from("血糖胰岛素干细胞昏迷低高。？！ \n\t\u200f\u202e\ufeff\x00😀")),
               max_size=300)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)


@FAST
@given(TEXT)
def test_screen_always_classifies(text):
    result = safety.screen(text, 2000)
    assert result.kind in {"ok", "invalid", "emergency", "personal_advice", "out_of_scope", "out_of_scope_candidate"}
    assert result.language in ("zh", "en")


@FAST
@given(TEXT)
def test_sentence_split_never_crashes_and_invents_nothing(text):
    squeezed = "".join(text.split())
    for sentence in split_sentences(text):
        assert sentence.strip() and "".join(sentence.split()) in squeezed


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(string.ascii_letters + " 干细胞", min_size=1, max_size=40), body=TEXT,
       heading=st.text(string.ascii_letters + " #", max_size=20))
def test_chunker_never_crashes(tmp_path_factory, title, body, heading):
    path = tmp_path_factory.mktemp("doc") / "doc-en.md"
    text = f'---\nid: doc-en\ntitle: "{title}"\nlang: en\nkind: reference\nsource: "s"\n---\n# {title}\n\n## {heading}\n\n{body}\n'
    path.write_bytes(text.encode("utf-8", "replace"))
    try:
        doc = load_document(path)
    except CorpusError:
        return  # refused with a message naming the file: the documented outcome
    for chunk in chunk_document(doc):
        assert chunk.text.strip() and chunk.id.startswith("doc-en:")


@pytest.fixture(scope="module")
def web(pipeline, tmp_path_factory):
    from fastapi.testclient import TestClient

    app_settings = make_settings(tmp_path_factory.mktemp("props"), rate_limit_per_minute=0)
    return TestClient(create_app(app_settings, pipeline), raise_server_exceptions=False)


def post_json(web, path: str, body):
    """As a hostile client sends it: escaped JSON, lone surrogates included."""
    return web.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def _json_error_or_reply(reply) -> None:
    assert reply.status_code != 500 and reply.status_code < 600, reply.text[:300]
    body = reply.json()  # always JSON
    assert "error" in body or ("disclaimer" in body and "ai_label" in body)


@SLOW
@given(body=JSON)
def test_api_any_json_body(web, body):
    for path in ("/api/ask", "/api/feedback"):
        _json_error_or_reply(post_json(web, path, body))


@SLOW
@given(question=TEXT, history=st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "x"]),
                                                             "content": TEXT | JSON}), max_size=4), qid=JSON)
def test_api_any_question_history_and_id(web, question, history, qid):
    _json_error_or_reply(post_json(web, "/api/ask", {"question": question, "history": history, "id": qid}))


@SLOW
@given(raw=st.binary(max_size=400))
def test_api_any_bytes(web, raw):
    _json_error_or_reply(web.post("/api/ask", content=raw, headers={"Content-Type": "application/json"}))


# The chat page is a Gradio app with no handlers of its own (its client asks through /api/ask, tested
# above); what is left of Gradio's routes must still never crash, whatever is sent to them.
GRADIO_POSTS = ["run/predict", "run/take_question", "call/respond", "queue/join", "api/predict", "upload", "cancel"]


@SLOW
@given(route=st.sampled_from(GRADIO_POSTS), body=JSON)
def test_gradio_routes_any_json_never_500(web, route, body):
    reply = post_json(web, f"/chat/gradio_api/{route}", body)
    assert reply.status_code < 500, (route, reply.status_code, reply.text[:300])


@SLOW
@given(route=st.sampled_from(GRADIO_POSTS), raw=st.binary(max_size=400))
def test_gradio_routes_any_bytes_never_500(web, route, raw):
    reply = web.post(f"/chat/gradio_api/{route}", content=raw, headers={"Content-Type": "application/json"})
    assert reply.status_code < 500, (route, reply.status_code, reply.text[:300])
