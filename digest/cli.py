"""The ``digest`` command line: each command parses its arguments, calls one pipeline function, prints.

Exit codes: 0 ok, 1 some input failed (the rest was still processed), 2 usage error.
Errors a user can cause print one line (plus a hint) on stderr; ``--debug`` (anywhere on the line) or
``DIGEST_DEBUG=1`` shows tracebacks. ``NO_COLOR`` turns styling off; a closed pipe (``| head -1``) ends
quietly.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__, cli_delivery
from .cli_base import DigestGroup, _configure_logging, _debug_flag, debug_on, handle_errors
from .deliver.backends import BACKENDS
from .errors import UsageError

# python-http-client logs the bearer key and whole request bodies at DEBUG: never let it.
logging.getLogger("python_http_client").setLevel(logging.WARNING)


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
@click.option("--debug", is_flag=True, callback=_debug_flag, is_eager=True,
              help="Show tracebacks and debug logs (secrets are never logged). Also after the command, "
                   "or DIGEST_DEBUG=1.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Compose a newsletter digest from articles and send it.

    \b
    Typical flow:
      digest init my-news --name "Valley News"
      digest new my-news/2026-11 --subject "This week"
      digest add my-news/2026-11 article.html https://example.com/post feed.xml --limit 3
      digest build my-news/2026-11
      digest check my-news/2026-11
      digest send my-news/2026-11 --recipients my-news/recipients.csv

    Shell completion: eval "$(_DIGEST_COMPLETE=bash_source digest)" (zsh_source, fish_source).
    """
    if os.environ.get("NO_COLOR"):
        ctx.color = False
    _configure_logging(debug_on())


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article per line on stdout.")
@click.option("--max-chars", type=click.IntRange(min=40), default=300, show_default=True,
              help="Teaser budget in characters.")
@click.option("--explain", is_flag=True, help="Show the cleaned text, removed spans and why each sentence was picked.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes for many sources (default: one per CPU; 1 turns them off).")
@handle_errors
def teaser(sources: tuple[str, ...], as_json: bool, max_chars: int, explain: bool, jobs: int | None) -> None:
    """Print the title and teaser of each SOURCE (.txt/.md/.html path, http(s) URL, feed, or - for stdin).

    \b
    Example:
      digest teaser article.html https://example.com/post --max-chars 200
    """
    from .condense import explain as explain_teaser
    from .pipeline import teasers

    failed = False
    for got in teasers(sources, max_chars, jobs=1 if explain else jobs):
        article, t = got.article, got.teaser
        if article is None or t is None:
            click.echo(f"digest: error: {got.error}", err=True)
            failed = True
            continue
        if as_json:
            row = {
                "path": got.source,
                "title": article.title,
                "teaser": t.text,
                "url": article.url,
                "words": article.words,
                "reading_minutes": article.reading_minutes,
                "lang": article.lang,
                "shortened": t.shortened,
                "method": t.method,
            }
            click.echo(json.dumps(row, ensure_ascii=False))
        elif explain:
            click.echo(explain_teaser(article, max_chars=max_chars))
        else:
            click.echo(click.style(article.title or "(untitled)", bold=True))
            click.echo(t.text)
            if article.url:
                click.echo(article.url)
            click.echo()
    if failed:
        sys.exit(1)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _prompt_on_terminal(value: str | None, text: str) -> str:
    """``value`` when given; else a prompt on a terminal (empty answer: leave it for later); else ""."""
    if value is not None:
        return value
    if not _interactive():
        return ""
    return str(click.prompt(text, default="", show_default=False)).strip()


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default=None, help="The newsletter's name.")
@click.option("--from-email", default=None, metavar="EMAIL", help="The sender address (on your own domain).")
@click.option("--postal-address", default=None, metavar="TEXT", help="Postal address for the footer (CAN-SPAM).")
@click.option("--unsubscribe", default=None, metavar="mailto:ADDR|https://URL",
              help="How readers leave: a mailto: address or an https URL ({token} or {email} filled per reader).")
@handle_errors
def init(directory: Path, name: str | None, from_email: str | None, postal_address: str | None,
         unsubscribe: str | None) -> None:
    """Start a newsletter in DIRECTORY: a commented digest.toml, a .gitignore and a sample recipients.csv.

    Asks on a terminal for what was not given (Enter leaves it for later). Never overwrites a file.

    \b
    Example:
      digest init my-news --name "Valley News" --from-email news@valley.example \\
        --postal-address "1 Main St, Springfield" --unsubscribe mailto:leave@valley.example
    """
    from .init import init_folder

    result = init_folder(
        directory,
        name=_prompt_on_terminal(name, "Newsletter name"),
        from_email=_prompt_on_terminal(from_email, "Sender address (From)"),
        postal_address=_prompt_on_terminal(postal_address, "Postal address (footer)"),
        unsubscribe=_prompt_on_terminal(unsubscribe, "Unsubscribe (mailto:ADDR or https://URL)"),
    )
    for path in result.written:
        click.echo(f"wrote {path}")
    if result.missing:
        click.echo(f"before sending, set in {result.written[0]}: {', '.join(result.missing)}", err=True)
    click.echo(f'next: digest new {directory / "first-issue"} --subject "Our first issue"')


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--subject", required=True, help="The email's subject line.")
@click.option("--preheader", default="", help="The inbox preview text shown after the subject.")
@click.option("--from-feeds", is_flag=True,
              help="Draft the issue from the [[feeds]] in digest.toml: new entries since the previous issue.")
@handle_errors
def new(directory: Path, subject: str, preheader: str, from_feeds: bool) -> None:
    """Create DIRECTORY/issue.toml for a new issue (put it inside the folder `digest init` made).

    \b
    Example:
      digest new my-news/2026-11 --subject "This week in the valley"
    """
    if not from_feeds:
        from .compose.issue_file import new_issue

        click.echo(f"created {new_issue(directory, subject, preheader)}")
        return
    from .compose.from_feeds import draft_from_feeds

    draft = draft_from_feeds(directory, subject, preheader)
    for warning in draft.warnings:
        click.echo(f"warning: {warning}", err=True)
    for title in draft.added:
        click.echo(f"added: {title}")
    click.echo(f"created {draft.path} with {len(draft.added)} entries "
               f"({draft.skipped_seen} already used, {draft.skipped_old} older than the previous issue)")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("sources", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Newest N entries of a feed.")
@handle_errors
def add(directory: Path, sources: tuple[str, ...], limit: int | None) -> None:
    """Append articles from SOURCES to the issue in DIRECTORY.

    URLs are fetched in parallel; each `added:` line is printed as its source lands (so in the order they
    finish), while issue.toml lists them in the order given. Paths are stored relative to DIRECTORY.

    \b
    Example:
      digest add my-news/2026-11 notes/river.md https://example.com/post feed.xml --limit 3
    """
    from .compose.issue_file import add_sources

    result = add_sources(directory, list(sources), limit,
                         on_added=lambda title: click.echo(f"added: {title}"),
                         on_warning=lambda message: click.echo(f"warning: {message}", err=True))
    for err in result.errors:
        click.echo(f"digest: error: {err.message}", err=True)
    if result.errors:
        sys.exit(1)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def build(directory: Path) -> None:
    """Render DIRECTORY/build/: email.html (inlined), email.txt, web.html and a sample message.eml.

    \b
    Example:
      digest build my-news/2026-11
    """
    from .compose.build import build_issue

    result = build_issue(directory)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for path in result.paths:
        click.echo(f"wrote {path}")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--links", is_flag=True, help="Also request every article link (4xx/5xx/redirects are reported).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--install-tools", is_flag=True,
              help="Fetch the Node tools (caniemail, html-validate) into the user cache now, at pinned versions.")
@handle_errors
def check(directory: Path | None, links: bool, as_json: bool, install_tools: bool) -> None:
    """Check DIRECTORY's email before sending: size, images, links, unsubscribe, sender, caniemail, spam, HTML.

    Exits 1 when something should block a send. caniemail and html-validate need Node 18 or later; their
    npm packages are fetched into the user cache on first use (or now, with --install-tools).

    \b
    Examples:
      digest check my-news/2026-11
      digest check --install-tools
    """
    from .compose.check import check_issue
    from .compose.node_tools import install_tools as fetch_tools

    if install_tools:
        click.echo(f"Node tools ready in {fetch_tools(notify=lambda line: click.echo(line, err=True))}",
                   err=directory is not None)
    if directory is None:
        if install_tools:
            return
        raise UsageError("give the issue folder to check", "digest check DIR (or digest check --install-tools)")
    report = check_issue(directory, links=links, notify=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        marks = {"error": "ERROR", "warning": "warn ", "info": "ok   ", "skipped": "SKIP "}
        for f in report.findings:
            click.echo(f"{marks.get(f.level, f.level)} [{f.check}] {f.message}")
        click.echo(report.verdict)
        for hint in report.hints:
            click.echo(f"  to add them: {hint}")
    if report.blocked:
        sys.exit(1)


@cli.command("config")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."), required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: table -> key -> {value, from}.")
@handle_errors
def config_cmd(directory: Path, as_json: bool) -> None:
    """Print the settings in effect for DIRECTORY (default: here) and where each came from.

    Each key shows its value and its origin: default, the digest.toml that set it, or an environment
    variable. Unknown keys in digest.toml are warned about with the closest known name.

    \b
    Example:
      digest config my-news/2026-11
    """
    from .config import FREE_FORM, KEYS, load_settings

    settings = load_settings(directory)
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for table, keys in KEYS.items():
        names = list(keys) + [k for k in settings.data.get(table, {}) if table in FREE_FORM and k not in keys]
        rows[table] = {k: {"value": settings.effective(table, k), "from": settings.origin(table, k)} for k in names}
    if as_json:
        click.echo(json.dumps({"file": str(settings.path) if settings.path else None, "settings": rows,
                               "feeds": settings.feeds}, ensure_ascii=False))
        return
    from .config import toml_value

    click.echo(f"# settings file: {settings.path or 'none found (all defaults)'}")
    for table, shown in rows.items():
        click.echo(f"\n[{table}]")
        width = max(len(f"{k} = {toml_value(v['value'])}") for k, v in shown.items())
        for key, row in shown.items():
            line = f"{key} = {toml_value(row['value'])}"
            click.echo(f"{line.ljust(width)}  # {row['from']}")
    for feed in settings.feeds:
        click.echo("\n[[feeds]]")
        for key, value in feed.items():
            click.echo(f"{key} = {toml_value(value)}  # {settings.path}")


@cli.command()
@click.argument("root", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the site (default: 'site' beside ROOT; never inside ROOT).")
@handle_errors
def archive(root: Path, out: Path | None) -> None:
    """Write a static web archive of the published issues below ROOT.

    \b
    Example:
      digest archive my-news --out public/
    """
    from .archive import build_archive

    result = build_archive(root, out)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"archived {len(result.issues)} issue(s), left {len(result.drafts)} draft(s) out: {result.out}")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=8642, show_default=True,
              help="Port to listen on (0: any free port). A port in use is an error, never switched.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--recipients", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Subscribers CSV: merge fields show its first recipients (else example values).")
@click.option("--no-open", is_flag=True, help="Don't open the browser.")
@click.option("--no-checks", is_flag=True,
              help="Skip digest check's slow tools (caniemail, SpamAssassin, html-validate) after each build.")
@click.option("--screenshot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG of the email itself (full height) and exit.")
@click.option("--width", type=click.IntRange(200, 4000), default=375, show_default=True,
              help="Screenshot width in pixels (device scale 1).")
@click.option("--dark", is_flag=True, help="Screenshot in dark mode.")
@click.option("--chromium", default=None, help="Chromium for the screenshot (else $DIGEST_CHROMIUM, else PATH).")
@handle_errors
def preview(directory: Path, port: int, host: str, recipients: Path | None, no_open: bool, no_checks: bool,
            screenshot: Path | None, width: int, dark: bool, chromium: str | None) -> None:
    """Serve DIRECTORY's email at http://127.0.0.1:PORT/ and rebuild it on every edit (Ctrl-C stops).

    \b
    Examples:
      digest preview my-news/2026-11
      digest preview my-news/2026-11 --screenshot phone.png --width 375 --dark
    """
    if screenshot is not None:
        from .preview.screenshot import screenshot_issue

        shot = screenshot_issue(directory, screenshot, width=width, dark=dark, chromium=chromium,
                                recipients=recipients)
        click.echo(f"wrote {screenshot} ({shot.width}x{shot.height})")
        if shot.blocked:
            click.echo(f"note: {len(shot.blocked)} remote resource(s) not loaded (screenshots stay offline), "
                       f"e.g. {shot.blocked[0]}", err=True)
        return
    from .preview.server import serve

    serve(directory, host=host, port=port, recipients=recipients, open_browser=not no_open,
          checks=not no_checks, echo=lambda line: click.echo(line))


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--recipients", "recipients_csv", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Subscribers CSV with an `email` column (other columns are merge fields).")
@click.option("--backend", type=click.Choice(list(BACKENDS)), default="outbox", show_default=True,
              help="outbox: one .eml per recipient in DIR/outbox/ (no account needed).")
@click.option("--dry-run", is_flag=True, help="Validate everything and show the batches; send nothing.")
@click.option("--test", "test_email", metavar="EMAIL", default=None,
              help="Send one copy, subject prefixed [TEST], outside the journal.")
@click.option("--resend-unknown", is_flag=True,
              help="Also send recipients whose earlier send is unknown (they may get it twice).")
@click.option("--sandbox", is_flag=True, help="SendGrid sandbox mode: accepted, delivered to no one.")
@click.option("--at", "at", default=None, metavar="TIME", help="SendGrid: schedule (ISO 8601 or Unix time, <= 72 h).")
@click.option("--cancel", is_flag=True,
              help="SendGrid: cancel the scheduled send of this issue (its recipients become pending again).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option("--new-journal", is_flag=True,
              help="Set the issue's send journal aside and start an empty one (everyone counts as not yet sent).")
@click.option("--force", is_flag=True, help="Send even when digest check finds errors (free-mail From, ...).")
@click.option("--ab-test", "ab_test", metavar="SHARE", default=None,
              help="A/B test issue.toml's subject_variants: send SHARE (e.g. 20%) of the CSV, split evenly.")
@click.option("--ab-winner", "ab_winner", metavar="auto|N", default=None,
              help="After --ab-test: send everyone not yet sent variant N, or (auto) the best click rate's.")
@handle_errors
def send(directory: Path, recipients_csv: Path | None, backend: str, dry_run: bool, test_email: str | None,
         resend_unknown: bool, sandbox: bool, at: str | None, cancel: bool, as_json: bool, new_journal: bool,
         ab_test: str | None, ab_winner: str | None, force: bool) -> None:
    """Send the issue in DIRECTORY to every recipient of the CSV (resumable; see the journal in DIRECTORY).

    \b
    Examples:
      digest send my-news/2026-11 --recipients my-news/recipients.csv            # .eml files in outbox/
      digest send my-news/2026-11 --recipients subscribers.csv --backend sendgrid --dry-run
    """
    from .deliver.progress import Progress
    from .deliver.send import cancel_scheduled, send_issue

    if ab_test is not None or ab_winner is not None:
        _ab_send(directory, recipients_csv, backend, ab_test, ab_winner, dry_run=dry_run, test_email=test_email,
                 resend_unknown=resend_unknown, sandbox=sandbox, at=at, cancel=cancel, as_json=as_json,
                 new_journal=new_journal, force=force)
        return
    if new_journal:
        if dry_run or test_email or cancel:
            raise UsageError("--new-journal starts a real send; it is not used with --dry-run, --test or --cancel")
        from .deliver.journal import set_aside

        aside = set_aside(directory)
        if aside is not None:
            click.echo(f"set the old send journal aside as {aside}; starting an empty one", err=True)

    if cancel:
        batch_id, released = cancel_scheduled(directory)
        if as_json:
            click.echo(json.dumps({"cancelled": batch_id, "released": released}))
        else:
            click.echo(f"cancelled the scheduled send (batch {batch_id}); {released:,} recipient(s) are pending "
                       f"again: `digest send {directory} --recipients CSV` (now or with --at) mails each of them once")
        return
    if not (test_email or dry_run or sandbox):
        from .deliver.abtest import check_plain_send

        check_plain_send(directory)
    progress = Progress(None) if not dry_run and not test_email else None
    report = send_issue(directory, recipients_csv, backend, dry_run=dry_run, test_email=test_email,
                        resend_unknown=resend_unknown, sandbox=sandbox, at=at, json_output=as_json,
                        notify=lambda line: click.echo(line, err=True), progress=progress, force=force)
    _send_outcome(report, as_json)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    if not report.ok:
        sys.exit(1)


def _send_outcome(report: Any, as_json: bool) -> None:
    """A send's skipped rows, batches (dry run) and summary, on stderr (stdout with neither --json)."""
    from .deliver.progress import summary_lines

    # Skipped rows go to stderr with or without --json (stdout then holds only the JSON object).
    for p in report.problems[:50]:
        click.echo(f"skipped {p.kind}: {p}", err=True)
    if report.problems_total > 50:
        click.echo(f"... and {report.problems_total - 50:,} more skipped row(s)", err=True)
    if report.dry_run:
        for number, size, first, last in report.batches:
            click.echo(f"batch {number}: {size:,} recipient(s) ({first} ... {last})", err=True)
        if report.batch_count > len(report.batches):
            click.echo(f"... and {report.batch_count - len(report.batches):,} more batch(es)", err=True)
    for line in summary_lines(report):
        click.echo(line, err=as_json)


def _ab_send(directory: Path, recipients_csv: Path | None, backend: str, ab_test: str | None, ab_winner: str | None,
             *, dry_run: bool, test_email: str | None, resend_unknown: bool, sandbox: bool, at: str | None,
             cancel: bool, as_json: bool, new_journal: bool, force: bool = False) -> None:
    """``digest send --ab-test SHARE`` / ``--ab-winner auto|N`` (deliver/abtest.py)."""
    from .deliver import abtest
    from .deliver.progress import Progress
    from .deliver.send import send_issue

    if ab_test is not None and ab_winner is not None:
        raise UsageError("--ab-test and --ab-winner are two steps: run --ab-test first, then --ab-winner")
    given = [name for name, on in (("--test", test_email), ("--sandbox", sandbox), ("--at", at), ("--cancel", cancel),
                                   ("--new-journal", new_journal and ab_winner is not None)) if on]
    if given:
        raise UsageError(f"{given[0]} is not used with --ab-test or --ab-winner")
    if recipients_csv is None:
        raise UsageError("--recipients CSV is required with --ab-test and --ab-winner")
    share = abtest.parse_share(ab_test) if ab_test is not None else None
    choice = abtest.parse_winner(ab_winner) if ab_winner is not None else None
    if new_journal:
        from .deliver.journal import set_aside

        if dry_run:
            raise UsageError("--new-journal starts a real send; it is not used with --dry-run")
        aside = set_aside(directory)
        if aside is not None:
            click.echo(f"set the old send journal aside as {aside}; starting an empty one", err=True)

    def send(*args: Any, **kwargs: Any) -> Any:
        progress = Progress(None) if not dry_run else None
        return send_issue(*args, progress=progress, force=force, **kwargs)

    notify = lambda line: click.echo(line, err=True)  # noqa: E731
    common = {"backend_name": backend, "dry_run": dry_run, "resend_unknown": resend_unknown, "json_output": as_json,
              "notify": notify}
    if share is not None:
        run = abtest.run_test(directory, recipients_csv, share, send, **common)
    else:
        run = abtest.run_winner(directory, recipients_csv, choice, send, **common)
    for number, subject, report in run.sends:
        click.echo(f"variant {number} ({subject!r}):", err=as_json)
        _send_outcome(report, as_json)
    if as_json:
        last = run.sends[-1][2]
        click.echo(json.dumps({**last.to_dict(), "ab": run.to_dict()}, ensure_ascii=False))
    if not run.ok:
        sys.exit(1)


for _command in (cli_delivery.suppressions, cli_delivery.unsubscribe_server, cli_delivery.events_server,
                 cli_delivery.report):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="digest")


if __name__ == "__main__":
    main()
