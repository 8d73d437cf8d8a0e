"""Command line: t1d-qa index | ask | chat | eval | serve."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .config import ConfigError, Settings

EPILOG = (
    "Settings come from T1D_QA_* environment variables (see README, 'Settings'). "
    "Not medical advice: every answer carries a disclaimer."
)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env()
        logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
        return args.func(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # every known failure has a message that names its fix
        from .corpus import CorpusError
        from .embeddings import EmbeddingError
        from .index import IndexUnavailable

        if isinstance(exc, ConfigError | CorpusError | EmbeddingError | IndexUnavailable):
            print(f"t1d-qa: error: {exc}", file=sys.stderr)
            return 1
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="t1d-qa",
        description="Cited, grounded answers about stem-cell therapy for type 1 diabetes (Chinese and English).",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "index", help="build or update the Chroma index from the corpus; warns about time-sensitive sections older than T1D_QA_STALE_AFTER_DAYS"
    )
    p.add_argument("--rebuild", action="store_true",
                   help="embed everything again (beside the index in service, which stays until the new one is checked)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question, or a batch with --jsonl")
    p.add_argument("question", nargs="?", help="the question (Chinese or English)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument(
        "--jsonl", metavar="FILE",
        help="read one question per line (plain text or {\"question\", \"id\"}); '-' is stdin; "
        "print one JSON object per line",
    )
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="an interactive chat in the terminal")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("eval", help="run the golden cases and print retrieval, citation and safety metrics")
    p.add_argument("--cases", type=Path, default=Path("tests/golden"), help="folder of YAML cases (default: tests/golden)")
    p.add_argument("--report", type=Path, help="also write a self-contained HTML report here")
    p.add_argument("--composer", help="composer to evaluate (default: the configured one)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="serve the chat page, the JSON API and the website widget")
    p.add_argument("--host", help="interface to bind (default: T1D_QA_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: T1D_QA_PORT or 7860)")
    p.add_argument("--workers", type=int,
                   help="server processes (default: T1D_QA_WORKERS or 1); more than 1 needs T1D_QA_CHROMA_URL")
    p.set_defaults(func=cmd_serve)
    return parser


def cmd_eval(args, settings: Settings) -> int:
    from .evaluation import run_cli

    return run_cli(args, settings)


def cmd_serve(args, settings: Settings) -> int:
    from .web.server import serve

    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if args.port is not None and not 1 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port (1-65535)")
    return serve(settings, host=args.host, port=args.port, workers=args.workers)


def cmd_index(args, settings: Settings) -> int:
    import signal
    from datetime import date

    from .corpus import chunk_corpus, load_corpus, stale_claims
    from .embeddings import load_embeddings
    from .index import Index
    from .library import load_library

    docs = load_corpus(settings.corpus_dir)  # a broken corpus stops here, index untouched
    for warning in stale_claims(docs, date.today(), settings.stale_after_days):
        print(f"t1d-qa: warning: {warning}", file=sys.stderr)
    library = load_library(settings.corpus_dir, docs)  # a broken answer library stops here too
    chunks = chunk_corpus(docs)
    embeddings = load_embeddings(settings)
    signal.signal(signal.SIGTERM, _interrupt)  # a killed build says what it left in service
    index = Index(settings, embeddings)
    report = index.sync(chunks, progress=sys.stderr.isatty(), rebuild=args.rebuild)
    print(f"{report.describe()}; generation {index.generation} in service")
    print(f"answer library verified: {len(library)} reviewed entries")
    if len(library):  # embed the paraphrases and train the matcher now, not on the first question
        from .compose.matcher import Matcher, cached_encoder

        folder = settings.models_dir / "library"
        Matcher.load_or_train(library, cached_encoder(embeddings, folder / "question-vectors.npz"), folder)
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_ask(args, settings: Settings) -> int:
    from .answer import Pipeline

    if args.jsonl:
        pipeline = Pipeline.load(settings, announce=_stderr)
        return _ask_batch(pipeline, args.jsonl)
    if args.question is None:
        print("t1d-qa ask: give a QUESTION or --jsonl FILE", file=sys.stderr)
        return 2
    pipeline = Pipeline.load(settings, announce=_stderr)
    answer = pipeline.ask(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print(render_text(answer))
    return 2 if answer.kind == "invalid" else 0


def _ask_batch(pipeline, source: str) -> int:
    stream = sys.stdin if source == "-" else open(Path(source), encoding="utf-8")  # noqa: SIM115
    with stream:
        for lineno, line in enumerate(stream, 1):
            line = line.rstrip("\n")
            question, qid = line, None
            if line.lstrip().startswith("{"):
                try:
                    item = json.loads(line)
                    question, qid = item.get("question", ""), item.get("id")
                except (json.JSONDecodeError, AttributeError):
                    question, qid = "", f"line-{lineno}"
            answer = pipeline.ask(question if isinstance(question, str) else "", id=qid)
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
    return 0


def cmd_chat(args, settings: Settings) -> int:
    from .answer import Pipeline

    pipeline = Pipeline.load(settings, announce=_stderr)
    history: list[dict] = []
    print("t1d-qa chat — ask about stem-cell therapy for type 1 diabetes (Ctrl-D to quit).")
    while True:
        try:
            question = input("\n> ")
        except EOFError:
            print()
            return 0
        answer = pipeline.ask(question, history=history)
        print(render_text(answer))
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


def render_text(answer) -> str:
    """The answer for a person: text, numbered sources, label and disclaimer."""
    zh = answer.language == "zh"
    lines = [f"[{answer.ai_label}]", answer.answer]
    if answer.citations:
        lines.append("\n参考来源：" if zh else "\nSources:")
        for c in answer.citations:
            dates = c.dates(answer.language)
            lines.append(f"[{c.n}] {c.title} — {c.section}\n    “{c.quote}”\n    {c.source}"
                         + (f"\n    ({dates})" if dates else ""))
    lines.append(f"\n{answer.disclaimer}")
    return "\n".join(lines)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
