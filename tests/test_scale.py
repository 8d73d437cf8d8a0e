"""Scale-out on real servers: `t1d-qa serve --workers 2` on a real `chroma run`, feedback into a real
PostgreSQL (Debian's, started here on a temp directory and port), one rate limit across workers,
and an index update picked up by both workers while they answer."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from test_live_index import (
    KNOWN,
    NEW_DOC,
    NEW_QUESTION,
    Stream,
    cited,
    env_for,
    finished,
    free_port,
    start_server,
    t1d_qa,
)

pytestmark = pytest.mark.server
DATA = Path(__file__).parent / "data" / "corpus"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def chroma(tmp_path):
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(tmp_path / "chroma"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.time() < deadline and proc.poll() is None, "chroma run did not start"
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def postgres(tmp_path):
    """A throw-away cluster; as root it runs as the `postgres` user, which initdb requires."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure-postgres.sh")], check=False)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not found:
        pytest.fail("Debian's postgresql is missing and scripts/ensure-postgres.sh could not install it")
    # Not under pytest's tmp folder: its parents are private to root, and the server runs as postgres.
    bindir, folder, port = Path(found[-1]), Path(tempfile.mkdtemp(prefix="t1d-qa-pg-")), free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(folder, "postgres")
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "t1d")
    run(str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-w", "-l", str(folder / "log"),
        "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
    yield f"postgresql://t1d@127.0.0.1:{port}/postgres"
    run(str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "stop")
    shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_on_chroma_server_with_postgres_feedback(tmp_path, chroma, postgres):
    import psycopg

    shutil.copytree(DATA, tmp_path / "corpus")
    env = env_for(tmp_path, T1D_QA_CHROMA_URL=chroma, T1D_QA_FEEDBACK_URL=postgres,
                  T1D_QA_TRUSTED_PROXIES="127.0.0.1")
    env["T1D_QA_RATE_LIMIT_PER_MINUTE"] = "10"
    rc, out = finished(t1d_qa(env, "index"))
    assert rc == 0, out
    port = free_port()
    server = start_server(env, port, "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        pids, deadline = set(), time.time() + 180
        while len(pids) < 2:  # each request on a new connection, until both workers have loaded and answered
            assert time.time() < deadline, f"only workers {pids} answered"
            pids.add(httpx.get(f"{base}/api/health", timeout=60).json()["worker_pid"])
            time.sleep(0.1)

        # One rate limit across workers: 10 per minute for this client, whichever worker it reaches.
        client = {"X-Forwarded-For": "198.18.0.7"}
        signed = []
        for question, _ in KNOWN * 2:
            reply = httpx.post(f"{base}/api/ask", json={"question": question}, headers=client, timeout=60)
            assert reply.status_code == 200 and reply.json()["kind"] == "answer"
            signed.append(reply.json()["answer_id"])
        for answer_id in signed:  # votes, to PostgreSQL, from whichever worker
            reply = httpx.post(f"{base}/api/feedback", json={"answer_id": answer_id, "vote": "up"}, headers=client,
                               timeout=60)
            assert reply.status_code == 201, reply.text
        codes = [httpx.post(f"{base}/api/ask", json={"question": KNOWN[0][0]}, headers=client, timeout=60).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 429, 429]
        with psycopg.connect(postgres) as db:
            rows = db.execute("SELECT answer_id, vote, question FROM feedback").fetchall()
        assert sorted(r[0] for r in rows) == sorted(a.rsplit("-", 1)[0] for a in signed)
        assert {r[1] for r in rows} == {"up"} and {r[2] for r in rows} == {None}

        # An index update while both workers answer: no wrong answer, and both pick up the new document.
        rotating = lambda n: {"X-Forwarded-For": f"198.18.1.{n % 250}"}  # noqa: E731 - many clients, none limited
        with Stream(base, clients=1, headers=rotating) as stream:
            shutil.copy(NEW_DOC, tmp_path / "corpus" / NEW_DOC.name)
            rc, out = finished(t1d_qa(env, "index"))
            assert rc == 0 and "1 chunks embedded" in out, out
            deadline, streak = time.time() + 60, 0
            while streak < 8:  # eight in a row, on new connections: both workers have reloaded
                assert time.time() < deadline, "the new document was not answered by both workers"
                status, kind, docs = cited(base, NEW_QUESTION[0], headers=rotating(int(time.time() * 10)))
                streak = streak + 1 if (status, kind, NEW_QUESTION[1] in docs) == (200, "answer", True) else 0
                time.sleep(0.3)
        assert stream.right > 5 and stream.wrong == [], stream.wrong[:5]
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_workers_are_refused_on_the_embedded_index(tmp_path):
    shutil.copytree(DATA, tmp_path / "corpus")
    rc, out = finished(t1d_qa(env_for(tmp_path), "serve", "--workers", "2"), timeout=120)
    assert rc == 1 and "needs a Chroma server" in out and "Traceback" not in out
