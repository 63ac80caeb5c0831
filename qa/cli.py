"""The `qa` command: build, add, remove, ask, serve, eval (see CONTRACT.md)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX = PROJECT_ROOT / "index_store"
DEFAULT_CORPUS = PROJECT_ROOT / "corpus"
DEFAULT_GOLD = PROJECT_ROOT / "eval" / "gold.jsonl"

log = logging.getLogger("qa")


class CliError(Exception):
    """A failure with a one-line reason for stderr."""


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cmd_build(args: argparse.Namespace) -> int:
    from qa.builder import build
    from qa.embed import default_embedder

    if args.engine == "ray":
        try:
            from qa.ray_engine import build_with_ray
        except ImportError as exc:
            raise CliError(f"--engine ray needs Ray: pip install 'inspection-qa[ray]' ({exc})") from exc
        if args.backend not in (None, "torch"):
            raise CliError("--engine ray encodes with torch")
        summary = build_with_ray(Path(args.corpus), Path(args.index), workers=args.workers,
                                 batch_size=args.batch_size, force=args.force, progress=not args.quiet)
    else:
        summary = build(Path(args.corpus), Path(args.index), embedder=default_embedder(args.backend),
                        force=args.force, progress=not args.quiet)
    for path, reason in summary.get("skipped", []):
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if summary.get("up_to_date"):
        print(f"index up to date: {summary['documents']} documents, {summary['passages']} passages ({summary['version']})")
    else:
        print(f"built {summary['version']}: {summary['documents']} documents, {summary['passages']} passages, "
              f"{summary['embedded']} embedded, {summary['build_seconds']} s")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from qa.builder import add

    summary = add([Path(p) for p in args.paths], Path(args.index))
    for path, reason in summary.get("skipped", []):
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"added {', '.join(summary['added']) or 'nothing'}; index {summary['version']}: "
          f"{summary['documents']} documents, {summary['passages']} passages, {summary['embedded']} embedded")
    return 0 if summary["added"] else 1


def cmd_remove(args: argparse.Namespace) -> int:
    from qa.builder import remove

    summary = remove(args.document_ids, Path(args.index))
    print(f"removed {', '.join(summary['removed'])}; index {summary['version']}: "
          f"{summary['documents']} documents, {summary['passages']} passages")
    return 0


def _print_reply(reply: dict) -> None:
    answer = reply["answer"]
    if answer:
        print(f"Answer: {answer['text']}   (confidence {answer['confidence']:.2f})")
        sentence = answer.get("sentence")
        if sentence and answer.get("granularity") == "span" and sentence["text"] != answer["text"] \
                and not answer.get("rows"):
            # the sentence the span was read from, the span marked: '... led by [Naintara Khosla] ...'
            a, b = answer["start"] - sentence["start"], answer["end"] - sentence["start"]
            marked = f"{sentence['text'][:a]}[{sentence['text'][a:b]}]{sentence['text'][b:]}"
            print(textwrap.indent(textwrap.fill(f"In: {marked}", 100), "  "))
        if answer.get("authority"):
            print(f"  From {answer['authority']}'s report")
        for row in answer.get("rows", []):
            grade = f"{row['previous']} -> {row['grade']}" if row.get("previous") else row["grade"]
            print(f"  {row['authority']}: {grade} ({row['area']})  [{row['citation']}]")
        for step in answer.get("history", []):
            print(f"  {step['year']}: {step['grade']}  [{step['passage_id']}]")
    elif reply.get("notice"):
        print(f"Not found in the reports. {reply['notice']}")
    else:
        print("Not found in the reports. The closest passages:")
    if reply.get("filters_applied"):
        print(f"Filters: {json.dumps(reply['filters_applied'])}")
    if reply.get("searched_for"):
        said = "; ".join(f"{' or '.join(b['terms'])} for '{b['asked']}'" for b in reply["searched_for"])
        print(f"Also searched, in the reports' words: {said}")
    for passage in reply["passages"]:
        print(f"\n[{passage['rank']}] {passage['citation']}  (score {passage['score']:.2f})")
        if passage.get("section"):
            print(f"    {passage['section']}")
        print(textwrap.indent(textwrap.fill(passage["text"], 100), "    "))


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from qa.store import Store, write_gold

    rows = Store().feedback()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            count = write_gold(rows, handle)
        print(f"wrote {count} questions from {len(rows)} feedback rows to {args.out}", file=sys.stderr)
    else:
        write_gold(rows, sys.stdout)
    return 0


def cmd_insights(args: argparse.Namespace) -> int:
    from qa.insights import insights, render
    from qa.pipeline import Pipeline
    from qa.store import Store

    found = insights(Store(), Pipeline(Path(args.index)), top=args.top)
    print(json.dumps(found, ensure_ascii=False, indent=2) if args.json else render(found))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.pipeline import Pipeline

    pipeline = Pipeline(Path(args.index))
    try:
        filters = {"authority": args.authority} if args.authority else None
        reply = pipeline.ask(args.question, top_k=args.top_k, filters=filters)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(reply, ensure_ascii=False, indent=2))
    else:
        _print_reply(reply)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.builder import ensure_index
    from web.serve import serve

    ensure_index(Path(args.index), Path(args.corpus))
    serve(Path(args.index), host=args.host, port=args.port, threads=args.threads)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.runner import main as run_eval

    return run_eval(gold=[Path(g) for g in args.gold or [DEFAULT_GOLD]], index_dir=Path(args.index),
                    as_json=args.json, report_dir=Path(args.report) if args.report else None,
                    floors=args.check_floors, save_outcomes=Path(args.save_outcomes) if args.save_outcomes else None,
                    compare_with=Path(args.compare) if args.compare else None)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from eval.runner import calibrate

    logging.getLogger("qa").setLevel(logging.INFO)  # it runs for most of an hour: say which stage it is at
    return calibrate([Path(g) for g in args.gold] if args.gold else None, index_dir=Path(args.index),
                     keep_outcomes=Path(args.keep_outcomes) if args.keep_outcomes else None,
                     confidence_only=Path(args.confidence_only) if args.confidence_only else None)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="qa",
        description="Cited, extractive answers from children's services inspection reports, offline.",
        epilog="Start with `qa build`, then `qa ask \"How were care leavers rated in 2024?\"` or `qa serve`.",
    )
    root.add_argument("-v", "--verbose", action="store_true", help="log progress and timings to stderr")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_index(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--index", default=str(DEFAULT_INDEX), metavar="DIR",
                       help=f"index folder (default: {DEFAULT_INDEX.relative_to(PROJECT_ROOT)}/)")
        return p

    p = with_index(sub.add_parser("build", help="build or update the index from the corpus",
                                  description="Read every report in the corpus folder, clean it, split it into "
                                              "passages, embed them and write the dense and lexical indexes. "
                                              "Unchanged passages reuse their embeddings; an unchanged corpus "
                                              "is left as it is."))
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS), metavar="DIR",
                   help=f"folder of reports (.txt, .md, .pdf, .html; default: {DEFAULT_CORPUS.relative_to(PROJECT_ROOT)}/)")
    p.add_argument("--force", action="store_true", help="rebuild even when the corpus has not changed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default): this process; ray: read, clean, chunk and embed as Ray Data pipelines, on a "
                        "local Ray started here or on the cluster at $RAY_ADDRESS (the `ray` extra). Same index")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="with --engine ray: encoder workers, one model each (default 2; local Ray gets N CPUs)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N",
                   help="with --engine ray: texts per encoder call (default 64)")
    p.add_argument("--backend", choices=("torch", "onnx-int8"), default=None,
                   help="how the model runs: torch (default; or $QA_BACKEND) or onnx-int8 (about 1.4x faster "
                        "encoding, needs onnx and onnxruntime, 2.7 points lower hit@1 on the gold set). "
                        "Questions are always encoded the way their index was built")
    p.set_defaults(func=cmd_build)

    p = with_index(sub.add_parser("add", help="add or replace reports without a full rebuild",
                                  description="Add report files to the live index (a file whose name matches an "
                                              "indexed document replaces it). Only new passages are embedded."))
    p.add_argument("paths", nargs="+", metavar="PATH", help="report files (.txt, .md, .pdf, .html)")
    p.set_defaults(func=cmd_add)

    p = with_index(sub.add_parser("remove", help="take reports out of the index",
                                  description="Remove documents by id (see GET /api/documents)."))
    p.add_argument("document_ids", nargs="+", metavar="DOCUMENT_ID")
    p.set_defaults(func=cmd_remove)

    p = with_index(sub.add_parser("ask", help="answer one question",
                                  description="Answer a question from the reports, citing document, date and "
                                              "paragraph. A year in the question ('in 2024') filters the reports, "
                                              "and so does a council it names ('in Barnet')."))
    p.add_argument("question", metavar="QUESTION")
    p.add_argument("--authority", metavar="NAME", help="only this authority's reports (any form of its name)")
    p.add_argument("--top-k", type=int, default=5, metavar="N", help="passages to show, 1..20 (default 5)")
    p.add_argument("--json", action="store_true", help="print the /api/ask JSON reply")
    p.set_defaults(func=cmd_ask)

    p = with_index(sub.add_parser("serve", help="the web page and the JSON API",
                                  description="Serve the staff web page and the JSON API with waitress. "
                                              "Builds the index first when there is none."))
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS), metavar="DIR", help="corpus to build from if no index")
    p.set_defaults(func=cmd_serve)

    p = with_index(sub.add_parser("eval", help="the offline evaluation over gold Q&A pairs",
                                  description="Retrieval hit@k and MRR, exact match and F1, abstention, "
                                              "calibration, per-kind breakdown and latency, with dense-only "
                                              "and BM25-only retrieval beside the hybrid; 95% bootstrap "
                                              "intervals on the headline figures. Several --gold files are "
                                              "scored pooled, each set's figures beside them."))
    p.add_argument("--gold", action="append", metavar="FILE",
                   help="gold JSONL (default eval/gold.jsonl); repeat to score several sets pooled, each set's "
                        "figures beside them")
    p.add_argument("--save-outcomes", metavar="FILE", help="write each question's outcome (JSON lines) for --compare")
    p.add_argument("--compare", metavar="FILE", help="a run saved with --save-outcomes: report the change on the "
                                                      "questions both asked, with paired 95%% intervals")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--report", metavar="DIR", help="write a markdown report with plots to DIR")
    p.add_argument("--check-floors", action="store_true", help="exit 1 when a figure falls below eval/floors.json")
    p.set_defaults(func=cmd_eval)

    p = with_index(sub.add_parser("calibrate", help="refit the reader's ranker, span scorer and confidence",
                                  description="Fit the sentence ranker, the span scorer and the confidence "
                                              "model with 5-fold cross-validation over every question set in "
                                              "eval/ (all but the untouched eval/unseen-*.jsonl batches), print "
                                              "the cross-validated figures and save qa/reader/model.json."))
    p.add_argument("--gold", action="append", metavar="FILE",
                   help="a question set to fit on (repeatable; default every eval/*.jsonl but eval/unseen-*)")
    p.add_argument("--keep-outcomes", metavar="FILE",
                   help="also save the out-of-fold answers to FILE, for --confidence-only")
    p.add_argument("--confidence-only", metavar="FILE",
                   help="refit only the confidence and its threshold, in minutes, from the answers an earlier "
                        "refit kept with --keep-outcomes (the rest of the model is left as it is)")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("feedback", help="staff feedback kept by `qa serve`",
                       description="Feedback on answers from the page and POST /api/feedback, kept in "
                                   "$QA_DATA/qa.sqlite3 (default var/).")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    e = actions.add_parser("export", help="write the feedback as gold Q&A pairs",
                           description="Write feedback in the gold format (../shared/CONTRACT.md): a sentence or span "
                                       "picked as the right answer becomes the answer, 'not in these reports' an "
                                       "unanswerable question, an answer marked right stays as given. `qa eval --gold "
                                       "FILE` scores it; `qa calibrate --gold FILE` fits on it.")
    e.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    e.set_defaults(func=cmd_feedback_export)

    p = with_index(sub.add_parser("insights", help="what the question log and feedback say",
                                  description="The most-asked questions, those abstained on, answers marked wrong, "
                                              "and the words people ask with that the reports never use, with the "
                                              "report terms nearest them: candidate lines for qa/synonyms.txt."))
    p.add_argument("--top", type=int, default=10, metavar="N", help="items per list (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_insights)
    return root


def main(argv: list[str] | None = None) -> int:
    _offline()
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from qa.index import IndexBusy, IndexNotReady

    try:
        return args.func(args)
    except (CliError, IndexBusy, IndexNotReady, FileNotFoundError, ValueError) as exc:
        print(f"qa {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qa {args.command}: interrupted", file=sys.stderr)
        return 130
