"""``feedd`` on the command line: argument parsing and printing, nothing more."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from . import feeds as registry
from .build import build
from .config import CONFIG_NAME, DEFAULT_TOML, load_config
from .document import content_hash, identity, parse
from .index import Index
from .model import FeeddError, Rejected, shown_path
from .reconcile import analyse, matcher
from .scan import read_seed, relative_seed_path, stat_seed
from .topics import DISTINCT_LETTERS, kept_apart, left_out
from .websub import changed_feed_urls, tell_and_wait


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    setup_logging(args.verbose)
    try:
        return args.handler(args)
    except FeeddError as exc:  # the one way out for errors: one line, exit code 2
        print(f"feedd: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def setup_logging(verbosity: int, default: int = logging.WARNING) -> None:
    """Once, at the entry point; journald adds its own timestamps."""
    level = logging.DEBUG if verbosity > 1 else logging.INFO if verbosity == 1 else default
    fmt = "%(levelname)s %(message)s" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    # One line per event of ours; APScheduler's "job added/executed" lines are noise.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedd", description="Publish plain-text articles as RSS and Atom feeds.")
    parser.add_argument("--version", action="version", version=f"feedd {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=Path("."), help="project folder holding feedd.toml (default: .)")
    common.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    init = command("init", cmd_init, "write a commented feedd.toml and the seeds/ and feeds/ folders")
    init.add_argument("dir", nargs="?", type=Path, help="folder to set up (default: --root)")
    init.add_argument("--force", action="store_true", help="overwrite an existing feedd.toml")
    command("build", cmd_build, "read seeds/ once, publish every feed into feeds/, and exit")
    check = command("check", cmd_check, "show how a file would be read (title, date, language, topics, id) as JSON")
    check.add_argument("file", type=Path, help="the seed file to check")
    run = command("run", cmd_run, "watch seeds/, publish changes within a second, and serve feeds/ over HTTP")
    run.add_argument("--host", help="listen on this address (default: [server] host)")
    run.add_argument("--port", type=int, help="listen on this port, 0 for any free one (default: [server] port)")
    topics = commands.add_parser("topics", help="help with topic rules").add_subparsers(dest="topics_command",
                                                                                       metavar="SUBCOMMAND", required=True)
    suggest = topics.add_parser("suggest", parents=[common], help="print, per language, key phrases of the indexed "
                                "documents that no topic rule covers yet",
                                description="Print, per language, the key phrases (YAKE) of the newest indexed "
                                "documents that no topic rule matches yet: candidates for new keywords.")
    suggest.set_defaults(handler=cmd_topics_suggest)
    suggest.add_argument("--docs", type=int, default=200, help="newest documents read per language (default: 200)")
    suggest.add_argument("--top", type=int, default=15, help="phrases shown per language (default: 15)")
    suggest.add_argument("--json", action="store_true", help="one JSON object per language")
    lister = command("list", cmd_list, "show the documents in the index, the drafts and the rejected files")
    lister.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def cmd_init(args) -> int:
    root = (args.dir or args.root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    target = root / CONFIG_NAME
    if target.exists() and not args.force:
        raise FeeddError(f"{target} exists (use --force to overwrite)")
    title = json.dumps(root.name or "feedd")[1:-1]
    target.write_text(DEFAULT_TOML.format(title=title), encoding="utf-8")
    config = load_config(root)
    for folder in (config.seeds_dir, config.feeds_dir):
        folder.mkdir(parents=True, exist_ok=True)
    print(f"wrote {target}; drop articles into {config.seeds_dir} and run: feedd build --root {root}")
    return 0


def cmd_build(args) -> int:
    config = load_config(args.root)
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        def progress(items):
            return tqdm(items, desc="reading", unit="file", file=sys.stderr, leave=False)

    result = build(config, progress=progress)
    print(f"{result.sync.summary()}; {len(result.written)} files written in {result.seconds:.2f}s")
    for rejection in result.sync.rejected:
        print(f"rejected {rejection}")
    feeds = changed_feed_urls(config, result.written)
    if config.websub.hubs and feeds:
        stats = tell_and_wait(config.websub, feeds)  # failures are logged as they happen
        # The feeds are published either way: a hub that cannot be told is a warning, not a failed build.
        print(f"websub: {stats['sent']} notifications sent to {len(config.websub.hubs)} hub(s), "
              f"{stats['failed']} failed", file=sys.stderr if stats["failed"] else sys.stdout)
    return 0


def cmd_run(args) -> int:
    from .daemon import Daemon

    setup_logging(args.verbose, default=logging.INFO)
    config = load_config(args.root)
    server = config.server
    if args.host is not None:
        server = dataclasses.replace(server, host=args.host)
    if args.port is not None:
        server = dataclasses.replace(server, port=args.port)
    return Daemon(dataclasses.replace(config, server=server)).run()


def cmd_check(args) -> int:
    config = load_config(args.root)
    path = args.file
    relpath = relative_seed_path(config.seeds_dir, path) or path.name
    if not os.path.lexists(path):
        raise FeeddError(f"{path}: no such file")
    seed = stat_seed(path.parent, path.name)
    try:
        if seed is None:
            raise Rejected(relpath, "not a regular file (or a link out of seeds/)")
        raw = read_seed(path.parent, seed, config.input.max_bytes)
        analysis, tagging = analyse(raw, relpath, config)
    except FileNotFoundError:
        raise FeeddError(f"{path}: no such file") from None
    except Rejected as rejection:  # a verdict on the file, as a build would give it: exit code 1
        print(f"feedd: rejected: {rejection}", file=sys.stderr)
        return 1
    parsed = analysis.parsed
    key, id_ = identity(config.site.tag_authority, relpath, parsed.id)  # what a build would give it
    if config.index_path.exists():
        with Index(config.index_path) as index:
            state = index.file_state(relpath)
            if state and state.id:
                key, id_ = state.key, state.id
    report = {
        "path": relpath,
        "hash": content_hash(raw),
        "title": parsed.title,
        "date": parsed.date.isoformat() if parsed.date else None,
        "language": analysis.lang,
        "topics": [{"slug": t.slug, "title": t.title, "because": _because(t.slug, tagging)} for t in analysis.topics],
        "rules_not_applied": [_rule_match(m) for m in tagging.matches if not m.applies],
        "key": key,
        "id": id_,
        "author": parsed.author,
        "link": parsed.link,
        "summary": parsed.summary,
        "shortened": list(parsed.shortened),
        "kept_apart": [f"[topics.{rule.slug}]: {word!r} is not {keyword!r}: {_keeps(analysis.lang)}"
                       for rule, keyword, word in kept_apart(parsed.title, parsed.text, analysis.lang, config.topics)],
        "left_out": [f"[topics.{rule.slug}]: {word!r} is not counted as {keyword!r}: not in the rule's forms"
                     for rule, keyword, word in left_out(parsed.title, parsed.text, analysis.lang, config.topics,
                                                         matcher(config, analysis.lang).forms)],
        "draft": parsed.draft,  # held back from every feed and page while it says so
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def _keeps(lang: str) -> str:
    letters = DISTINCT_LETTERS[lang.split("-")[0].lower()]
    kept = "every mark" if letters is None else " ".join(letters)
    return f"{registry.language_name(lang)} keeps {kept} distinct"


def _because(slug: str, tagging) -> object:
    """Why a topic was given: the header, the folder, or which words matched which rule."""
    source = tagging.sources.get(slug)
    if source != "rule":
        return {"tags": "the document's tags: header", "folder": "the folder the file is in"}.get(source, source)
    return next(_rule_match(m) for m in tagging.matches if m.rule.slug == slug)


def _rule_match(match) -> dict:
    explained = {
        "rule": f"[topics.{match.rule.slug}]",
        "hits": match.count,
        "min_hits": match.rule.min_hits,
        "matched": [{"keyword": hit.keyword, "count": hit.count, "words": list(hit.examples)} for hit in match.hits],
    }
    if match.excluded_by:
        explained["excluded_by"] = [{"keyword": hit.keyword, "words": list(hit.examples)} for hit in match.excluded_by]
    if match.ignored:
        explained["not_counted"] = [f"{example!r} does not count: ignored phrase {hit.keyword!r}"
                                    for hit in match.ignored for example in hit.examples]
    return explained


def cmd_topics_suggest(args) -> int:
    from .suggest import suggest_all, supported

    config = load_config(args.root)
    now = datetime.now(timezone.utc)
    texts: list[tuple[str, str]] = []
    skipped: list[str] = []
    with Index.existing(config.index_path) as index:
        for feed in index.feeds():
            if not registry.kind_of(feed).whole_language:
                continue
            if not supported(feed.lang):
                skipped.append(feed.lang)
                continue
            for doc in index.latest(feed, now, args.docs):
                text = _seed_text(config, doc.path)
                if text:
                    texts.append((doc.lang, text))
    found = suggest_all(texts, config.topics, lambda lang: matcher(config, lang).forms, args.top)
    for lang, suggestions in found.items():
        if args.json:
            print(json.dumps({"language": lang, "phrases": [dataclasses.asdict(s) for s in suggestions]},
                             ensure_ascii=False))
            continue
        print(f"{lang} ({registry.language_name(lang)}), {sum(1 for l, _ in texts if l == lang)} documents:")
        for s in suggestions:
            print(f"  {s.phrase:40}  in {s.documents} document{'s' if s.documents != 1 else ''}")
    for lang in skipped:
        print(f"{lang}: skipped (key phrases need word segmentation in this script)", file=sys.stderr)
    return 0


def _seed_text(config, path: str) -> str | None:
    """The document's text as it is now in seeds/ (the index keeps no full text)."""
    seed = stat_seed(config.seeds_dir, path)
    try:
        return parse(read_seed(config.seeds_dir, seed, config.input.max_bytes), path, config.site.zone).text if seed else None
    except (Rejected, OSError):
        return None


def cmd_list(args) -> int:
    config = load_config(args.root)
    now = datetime.now(timezone.utc)
    with Index.existing(config.index_path) as index:
        for doc in index.documents():
            state = "embargoed" if doc.published > now else "published"
            if args.json:
                print(json.dumps({"path": doc.path, "id": doc.id, "state": state, "published": doc.published.isoformat(),
                                  "lang": doc.lang, "topics": [t.slug for t in doc.topics], "title": doc.title},
                                 ensure_ascii=False))
            else:
                topics = ",".join(t.slug for t in doc.topics) or "-"
                print(f"{doc.published.astimezone(config.site.zone):%Y-%m-%d}  {state:9}  {doc.lang:7}  {topics:24}  {doc.path}  {doc.title}")
        for path, marker in index.drafts():
            if args.json:
                print(json.dumps({"path": path, "state": "draft", "marker": marker}, ensure_ascii=False))
            else:
                print(f"{'':10}  draft      {shown_path(path)}: {marker}")
        for path, error in index.rejected():
            if args.json:
                print(json.dumps({"path": path, "state": "rejected", "error": error}, ensure_ascii=False))
            else:
                print(f"{'':10}  rejected   {shown_path(path)}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
