"""Serving benchmark (issue 12): one run, one table, beside the naive baseline.

Measures cold start to first answer; index build chunks/s on the corpus and on a synthetic corpus
(sentences of the real one, reshuffled into --synthetic chunks) with the share of time inside the
model; question p50/p95 in process on both indexes and one query embedding's median; HTTP load at
1, 8 and 32 clients for --seconds each, with 1 and 2 workers on a real `chroma run` server
(throughput, p50/p95, errors); peak RSS per worker. Prints a Markdown table.

Usage: python benchmarks/serving.py [--synthetic 10000] [--seconds 20] [--clients 1,8,32] [--questions N]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from t1d_qa.answer import Pipeline
from t1d_qa.baseline import NaiveBaseline
from t1d_qa.config import Settings
from t1d_qa.corpus import chunk_corpus, load_corpus
from t1d_qa.embeddings import load_embeddings
from t1d_qa.evaluation import load_cases
from t1d_qa.index import Index

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Timed:
    """The embedding model with a stopwatch: how much of a build is spent inside it."""

    def __init__(self, inner):
        self._inner, self.seconds = inner, 0.0

    def embed_documents(self, texts):
        started = time.perf_counter()
        try:
            return self._inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def __getattr__(self, name):
        return getattr(self._inner, name)


def build(settings: Settings, embeddings, chunks) -> tuple[float, float]:
    timed = Timed(embeddings)
    started = time.perf_counter()
    Index(settings, timed).sync(chunks)
    total = time.perf_counter() - started
    return len(chunks) / total, timed.seconds / total


def synthetic_corpus(folder: Path, source: list, n_chunks: int) -> None:
    """Documents made of the real corpus's sentences, reshuffled: realistic text, n_chunks chunks."""
    rng = random.Random(12)
    sentences = [(c.lang, s) for c in source for s in c.sentences if len(s) > 20]
    folder.mkdir(parents=True)
    per_doc = 10
    for d in range(max(1, n_chunks // per_doc)):
        lang = "zh" if d % 2 else "en"
        pool = [s for lg, s in sentences if lg == lang]
        sections = "\n\n".join(f"## Part {i}\n\n" + " ".join(rng.sample(pool, 3)) for i in range(per_doc))
        (folder / f"syn{d:05d}-{lang}.md").write_text(
            f'---\nid: syn{d:05d}-{lang}\ntitle: "Synthetic {d}"\nlang: {lang}\nkind: reference\n'
            f'source: "synthetic"\nreviewed: 2026-11-30\n---\n# Synthetic {d}\n\n{sections}\n', encoding="utf-8")


def in_process(settings: Settings, embeddings, questions: list[str]) -> dict:
    pipeline = Pipeline(settings, Index(settings, embeddings))
    baseline = NaiveBaseline(pipeline.index)
    for q in questions[:5]:
        pipeline.ask(q)
    product, naive, embed = [], [], []
    for q in questions:
        t = time.perf_counter()
        pipeline.ask(q)
        product.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        baseline.ask(q)
        naive.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        embeddings.embed_query(q)
        embed.append((time.perf_counter() - t) * 1000)
    return {"p50": pct(product, 50), "p95": pct(product, 95), "base_p50": pct(naive, 50),
            "base_p95": pct(naive, 95), "embed": statistics.median(embed)}


def cold_start(env: dict, question: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "t1d-qa"), "ask", "--json", question], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def cold_start_baseline(env: dict, question: str) -> float:
    code = ("from t1d_qa.config import Settings; from t1d_qa.embeddings import load_embeddings; "
            "from t1d_qa.index import Index; from t1d_qa.baseline import NaiveBaseline; s = Settings.from_env(); "
            f"NaiveBaseline(Index(s, load_embeddings(s))).ask({question!r})")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def rss_peak_mb(pid: int) -> float:
    """VmHWM of the process and its children (uvicorn workers), the largest one."""
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    peaks = []
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return max(peaks, default=float("nan"))


def load(base: str, questions: list[str], clients: int, seconds: float) -> dict:
    latencies, errors, stop = [], [0], time.time() + seconds

    def client(n: int) -> None:
        with httpx.Client(timeout=60) as http:
            i = n
            while time.time() < stop:
                t = time.perf_counter()
                try:
                    ok = http.post(f"{base}/api/ask", json={"question": questions[i % len(questions)]}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t) * 1000)
                errors[0] += not ok
                i += clients

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rps": len(latencies) / (time.time() - started), "p50": pct(latencies, 50), "p95": pct(latencies, 95),
            "errors": errors[0], "n": len(latencies)}


def serve(env: dict, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([str(BIN / "t1d-qa"), "serve", "--port", str(port), "--workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base, pids, deadline = f"http://127.0.0.1:{port}", set(), time.time() + 300
    while len(pids) < workers and time.time() < deadline:
        try:
            pids.add(httpx.get(f"{base}/api/health", timeout=5).json()["worker_pid"])
        except (httpx.HTTPError, KeyError, ValueError):
            time.sleep(0.5)
    return proc, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=10_000, help="chunks in the synthetic corpus")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per HTTP load level")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--questions", type=int, default=0, help="use only the first N golden questions (0 = all)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="t1d-qa-bench-"))
    base_settings = Settings.from_env()
    embeddings = load_embeddings(base_settings)
    questions = [c.question for c in load_cases(ROOT / "tests" / "golden") if c.question.strip()]
    questions = questions[: args.questions] if args.questions else questions
    rows: list[tuple[str, str, str]] = []
    try:
        corpus = Settings.from_env(data_dir=work / "corpus-data")
        chunks = chunk_corpus(load_corpus(corpus.corpus_dir))
        rate, share = build(corpus, embeddings, chunks)
        rows.append((f"index build, corpus ({len(chunks)} chunks)", f"{rate:.1f} chunks/s, {share:.0%} in the model", "same index"))
        real = in_process(corpus, embeddings, questions)
        rows.append(("question p50 / p95, corpus (in process)", f"{real['p50']:.0f} / {real['p95']:.0f} ms",
                     f"{real['base_p50']:.0f} / {real['base_p95']:.0f} ms"))
        rows.append(("one query embedding, median", f"{real['embed']:.0f} ms", "same model"))
        env = {**os.environ, "T1D_QA_DATA_DIR": str(corpus.data_dir), "T1D_QA_RATE_LIMIT_PER_MINUTE": "0"}
        rows.append(("cold start to first answer", f"{cold_start(env, questions[0]):.1f} s",
                     f"{cold_start_baseline(env, questions[0]):.1f} s"))

        syn_dir = work / "synthetic"
        synthetic_corpus(syn_dir, chunks, args.synthetic)
        syn = Settings.from_env(data_dir=work / "syn-data", corpus_dir=syn_dir)
        syn_chunks = chunk_corpus(load_corpus(syn_dir))
        rate, share = build(syn, embeddings, syn_chunks)
        rows.append((f"index build, synthetic ({len(syn_chunks)} chunks)", f"{rate:.1f} chunks/s, {share:.0%} in the model", "same index"))
        big = in_process(syn, embeddings, questions)
        rows.append((f"question p50 / p95, synthetic {len(syn_chunks)} chunks", f"{big['p50']:.0f} / {big['p95']:.0f} ms "
                     f"(p95 ×{big['p95'] / real['p95']:.2f})", f"{big['base_p50']:.0f} / {big['base_p95']:.0f} ms"))

        chroma_port = free_port()
        chroma = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(work / "chroma"), "--port", str(chroma_port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            env = {**os.environ, "T1D_QA_DATA_DIR": str(work / "server-data"), "T1D_QA_RATE_LIMIT_PER_MINUTE": "0",
                   "T1D_QA_CHROMA_URL": f"http://127.0.0.1:{chroma_port}"}
            for _ in range(60):
                if subprocess.run([str(BIN / "t1d-qa"), "index"], env=env, capture_output=True).returncode == 0:
                    break
                time.sleep(1)
            for workers in (1, 2):
                proc, base = serve(env, workers)
                try:
                    for clients in [int(c) for c in args.clients.split(",")]:
                        r = load(base, questions, clients, args.seconds)
                        rows.append((f"HTTP, {workers} worker(s), {clients} clients ({args.seconds:.0f} s)",
                                     f"{r['rps']:.1f} q/s, p50 {r['p50']:.0f} / p95 {r['p95']:.0f} ms, {r['errors']} errors of {r['n']}",
                                     "—"))
                    rows.append((f"peak RSS per worker, {workers} worker(s)", f"{rss_peak_mb(proc.pid):.0f} MB", "—"))
                finally:
                    proc.terminate()
                    proc.wait(timeout=60)
        finally:
            chroma.terminate()
            chroma.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| measure | t1d-qa | naive baseline |\n| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
