"""A real `t1d-qa serve` keeps answering, correctly, while `t1d-qa index` changes the index under it.

One server process and a stream of questions from two clients; meanwhile, on the same data folder:
an update that adds a document, a --rebuild, a second build while one runs, and a build killed
half-way. Every answer in the stream must be a correct one (status 200, kind "answer", citing the
right document) and the new document must become answerable without a restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import MODELS
from t1d_qa.config import Settings
from t1d_qa.index import build_lock

DATA = Path(__file__).parent / "data" / "corpus"
NEW_DOC = Path(__file__).parent / "data" / "newdoc-en.md"
BIN = Path(sys.executable).parent
# Questions the mini corpus answers, with the document the answer must cite.
KNOWN = [("How many participants needed no insulin in the test study?", "mini-en"),
         ("Were any deaths reported in the test study?", "mini-en")]
NEW_QUESTION = ("How long did islet cells survive in the encapsulation device pouch?", "newdoc-en")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("T1D_QA_")}
    env.update(T1D_QA_DATA_DIR=str(tmp / "data"), T1D_QA_CORPUS_DIR=str(tmp / "corpus"),
               T1D_QA_MODELS_DIR=str(MODELS), T1D_QA_RATE_LIMIT_PER_MINUTE="100000", **extra)
    return env


def t1d_qa(env, *args, **kw) -> subprocess.Popen:
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kw}
    return subprocess.Popen([str(BIN / "t1d-qa"), *args], env=env, text=True, **kw)


def start_server(env, port: int, *args: str) -> subprocess.Popen:
    log = open(Path(env["T1D_QA_DATA_DIR"]).parent / f"serve-{port}.log", "w")  # noqa: SIM115
    server = t1d_qa(env, "serve", "--port", str(port), *args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise AssertionError("the server did not become healthy")


def cited(base: str, question: str, headers: dict | None = None) -> tuple[int, str, set[str]]:
    reply = httpx.post(f"{base}/api/ask", json={"question": question}, headers=headers, timeout=60)
    body = reply.json()
    return reply.status_code, body.get("kind", ""), {c["doc_id"] for c in body.get("citations", [])}


class Stream:
    """Clients asking known questions in a loop; every reply is recorded as right or wrong."""

    def __init__(self, base: str, clients: int = 2, pause: float = 0.05, headers=lambda n: None):
        self.base, self.right, self.wrong, self.pause, self.headers = base, 0, [], pause, headers
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _run(self, offset: int) -> None:
        n = offset
        while not self._stop.is_set():
            question, doc = KNOWN[n % len(KNOWN)]
            n += 1
            try:
                status, kind, docs = cited(self.base, question, self.headers(n))
            except httpx.HTTPError as exc:
                self.wrong.append((question, repr(exc)))
                continue
            if status == 200 and kind == "answer" and doc in docs:
                self.right += 1
            else:
                self.wrong.append((question, status, kind, sorted(docs)))
            time.sleep(self.pause)  # leave the builds some CPU on a 2-core machine

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=90)


def wait_until_answered(base: str, question: str, doc: str, seconds: float = 60) -> float:
    started = time.time()
    while time.time() - started < seconds:
        status, kind, docs = cited(base, question)
        if status == 200 and kind == "answer" and doc in docs:
            return time.time() - started
        time.sleep(0.5)
    raise AssertionError(f"{question!r} was not answered from {doc} within {seconds} s")


def finished(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def serving(tmp: Path) -> str:
    return (tmp / "data" / "index" / "CURRENT").read_text().strip()


@pytest.fixture
def live(tmp_path):
    shutil.copytree(DATA, tmp_path / "corpus")
    env = env_for(tmp_path)
    rc, out = finished(t1d_qa(env, "index"))
    assert rc == 0, out
    port = free_port()
    server = start_server(env, port)
    yield tmp_path, env, f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


def test_serving_through_update_rebuild_concurrent_and_killed_builds(live):
    tmp, env, base = live
    with Stream(base) as stream:
        time.sleep(2)
        # 1. The documented workflow: add a document, run `t1d-qa index`.
        shutil.copy(NEW_DOC, tmp / "corpus" / NEW_DOC.name)
        rc, out = finished(t1d_qa(env, "index"))
        assert rc == 0 and "1 chunks embedded" in out, out
        wait_until_answered(base, *NEW_QUESTION)
        health = httpx.get(f"{base}/api/health", timeout=60).json()
        assert health["generation"] == serving(tmp) and health["corpus_changed"] is False

        # 2. A build while another holds the lock is refused clearly; then a --rebuild.
        with build_lock(Settings.from_env({}, data_dir=tmp / "data")):
            rc, out = finished(t1d_qa(env, "index", "--rebuild"))
        assert rc == 1 and "another `t1d-qa index`" in out and "Traceback" not in out, out
        rc, out = finished(t1d_qa(env, "index", "--rebuild"))
        assert rc == 0 and "rebuilt the index" in out, out
        wait_until_answered(base, *NEW_QUESTION)

        # 3. A build killed half-way leaves the index in service untouched.
        before = serving(tmp)
        doomed = t1d_qa(env, "index", "--rebuild")
        _wait_for_new_generation(tmp, doomed)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
        assert serving(tmp) == before
        rc, out = finished(t1d_qa(env, "index"))  # removes the remains, embeds nothing
        assert rc == 0 and "0 chunks embedded" in out, out
        time.sleep(3)
    assert stream.right > 20 and stream.wrong == [], stream.wrong[:5]
    gens = sorted(p.name for p in (tmp / "data" / "index").iterdir() if p.is_dir())
    assert len(gens) <= 2 and serving(tmp) in gens  # old generations cleaned up
    assert httpx.get(f"{base}/api/health", timeout=60).json()["status"] == "ok"
    shutil.rmtree(tmp / "data" / "index")  # health tells the truth: nothing left to serve after a restart
    reply = httpx.get(f"{base}/api/health", timeout=60)
    assert reply.status_code == 503 and reply.json()["status"] == "unavailable"


def _wait_for_new_generation(tmp: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    root = tmp / "data" / "index"
    known = {p.name for p in root.iterdir()}
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        if {p.name for p in root.iterdir() if p.is_dir()} - known:
            return
        time.sleep(0.02)
    raise AssertionError(f"no new generation appeared (rc {proc.poll()})")
