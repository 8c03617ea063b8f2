"""The ``digest`` command line: each command parses its arguments, calls one pipeline function, prints.

Exit codes: 0 ok, 1 some input failed (the rest was still processed), 2 usage error.
Errors a user can cause print one line (plus a hint) on stderr; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .deliver.backends import BACKENDS
from .errors import DigestError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

# python-http-client logs the bearer key and whole request bodies at DEBUG: never let it.
logging.getLogger("python_http_client").setLevel(logging.WARNING)


def _fail(exc: DigestError) -> None:
    click.echo(f"digest: error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"  hint: {exc.hint}", err=True)
    sys.exit(exc.exit_code)


def handle_errors(func: F) -> F:
    """Turn DigestError into a one-line message and its exit code; unexpected errors too, unless --debug."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DigestError as exc:
            _fail(exc)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("digest: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - last line of defence: no tracebacks for users
            if click.get_current_context().find_root().params.get("debug"):
                raise
            click.echo(f"digest: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
                       err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs (secrets are never logged).")
def cli(debug: bool) -> None:
    """Compose a newsletter digest from articles and send it.

    \b
    Typical flow:
      digest new issues/2026-11 --subject "This week"
      digest add issues/2026-11 article.html https://example.com/post feed.xml --limit 3
      digest build issues/2026-11
      digest send issues/2026-11 --recipients subscribers.csv
    """
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("python_http_client").setLevel(logging.WARNING)


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article per line on stdout.")
@click.option("--max-chars", type=click.IntRange(min=40), default=300, show_default=True,
              help="Teaser budget in characters.")
@click.option("--explain", is_flag=True, help="Show the cleaned text, removed spans and why each sentence was picked.")
@handle_errors
def teaser(sources: tuple[str, ...], as_json: bool, max_chars: int, explain: bool) -> None:
    """Print the title and teaser of each SOURCE (.txt/.md/.html path, http(s) URL, feed, or - for stdin)."""
    from .condense import explain as explain_teaser
    from .condense import make_teaser
    from .errors import SourceError
    from .sources import load

    failed = False
    for source in sources:
        try:
            articles = load(source)
        except SourceError as exc:
            click.echo(f"digest: error: {exc.message}", err=True)
            failed = True
            continue
        for article in articles:
            try:
                t = make_teaser(article, max_chars=max_chars)
            except Exception as exc:  # noqa: BLE001 - one bad article never stops the others
                click.echo(f"digest: error: {source}: could not condense: {exc}", err=True)
                failed = True
                continue
            if as_json:
                row = {
                    "path": source,
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


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--subject", required=True, help="The email's subject line.")
@click.option("--preheader", default="", help="The inbox preview text shown after the subject.")
@click.option("--from-feeds", is_flag=True,
              help="Draft the issue from the [[feeds]] in digest.toml: new entries since the previous issue.")
@handle_errors
def new(directory: Path, subject: str, preheader: str, from_feeds: bool) -> None:
    """Create DIRECTORY/issue.toml for a new issue."""
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
    """Append articles from SOURCES to the issue in DIRECTORY."""
    from .compose.issue_file import add_sources

    result = add_sources(directory, list(sources), limit)
    for title in result.added:
        click.echo(f"added: {title}")
    for err in result.errors:
        click.echo(f"digest: error: {err.message}", err=True)
    if result.errors:
        sys.exit(1)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def build(directory: Path) -> None:
    """Render DIRECTORY/build/: email.html (inlined), email.txt, web.html and a sample message.eml."""
    from .compose.build import build_issue

    result = build_issue(directory)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for path in result.paths:
        click.echo(f"wrote {path}")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--links", is_flag=True, help="Also request every article link (4xx/5xx/redirects are reported).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@handle_errors
def check(directory: Path, links: bool, as_json: bool) -> None:
    """Check DIRECTORY's email before sending: size, images, links, unsubscribe, sender, caniemail, spam, HTML.

    Exits 1 when something should block a send.
    """
    from .compose.check import check_issue

    report = check_issue(directory, links=links)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        marks = {"error": "ERROR", "warning": "warn ", "info": "ok   ", "skipped": "SKIP "}
        for f in report.findings:
            click.echo(f"{marks.get(f.level, f.level)} [{f.check}] {f.message}")
        click.echo("blocked: fix the errors above before sending" if report.blocked else "ready to send")
    if report.blocked:
        sys.exit(1)


@cli.command()
@click.argument("root", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the site (default: 'site' beside ROOT; never inside ROOT).")
@handle_errors
def archive(root: Path, out: Path | None) -> None:
    """Write a static web archive of the published issues below ROOT."""
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
    """Serve DIRECTORY's email at http://127.0.0.1:PORT/ and rebuild it on every edit (Ctrl-C stops)."""
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
@handle_errors
def send(directory: Path, recipients_csv: Path | None, backend: str, dry_run: bool, test_email: str | None,
         resend_unknown: bool, sandbox: bool, at: str | None, cancel: bool, as_json: bool) -> None:
    """Send the issue in DIRECTORY to every recipient of the CSV (resumable; see the journal in DIRECTORY)."""
    from .deliver.progress import Progress, summary_lines
    from .deliver.send import cancel_scheduled, send_issue

    if cancel:
        batch_id, released = cancel_scheduled(directory)
        if as_json:
            click.echo(json.dumps({"cancelled": batch_id, "released": released}))
        else:
            click.echo(f"cancelled the scheduled send (batch {batch_id}); {released:,} recipient(s) are pending "
                       f"again: `digest send {directory} --recipients CSV` (now or with --at) mails each of them once")
        return
    progress = Progress(None) if not dry_run and not test_email else None
    report = send_issue(directory, recipients_csv, backend, dry_run=dry_run, test_email=test_email,
                        resend_unknown=resend_unknown, sandbox=sandbox, at=at, json_output=as_json,
                        notify=lambda line: click.echo(line, err=True), progress=progress)
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
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    if not report.ok:
        sys.exit(1)


@cli.group()
def suppressions() -> None:
    """The local suppression list: addresses no backend ever mails (see `digest suppressions path`)."""


def _suppressions_file(folder: Path, file: Path | None) -> Path:
    from .deliver.suppressions import suppressions_path

    return file if file is not None else suppressions_path(folder, issue_dir=False)


_supp_folder = click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                            show_default=True, help="The newsletter folder (digest.toml there or above).")
_supp_file = click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                          help="The suppression CSV itself (overrides --dir).")


@suppressions.command("add")
@click.argument("items", nargs=-1, required=True)
@click.option("--reason", default="manual", show_default=True, help="Why (unsubscribe, bounce, complaint...).")
@_supp_folder
@_supp_file
@handle_errors
def suppressions_add(items: tuple[str, ...], reason: str, folder: Path, file: Path | None) -> None:
    """Add each ITEM: an address, or a CSV file with an `email` column."""
    from .deliver.suppressions import add_from_args

    path = _suppressions_file(folder, file)
    result = add_from_args(path, items, reason=reason)
    for problem in result.problems:
        click.echo(f"digest: error: {problem}", err=True)
    click.echo(f"{path}: added {result.added}, already listed {result.already}")
    if result.problems:
        sys.exit(1)


@suppressions.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_supp_folder
@_supp_file
@handle_errors
def suppressions_list(as_json: bool, folder: Path, file: Path | None) -> None:
    """Print the suppressed addresses (email, reason, source, added)."""
    from dataclasses import asdict

    from .deliver.suppressions import entries

    path = _suppressions_file(folder, file)
    rows = entries(path)
    for e in rows:
        line = json.dumps(asdict(e), ensure_ascii=False) if as_json else f"{e.email}\t{e.reason}\t{e.source}\t{e.added}"
        click.echo(line)
    if not as_json:
        click.echo(f"{len(rows)} suppressed address(es) in {path}", err=True)


@suppressions.command("path")
@_supp_folder
@handle_errors
def suppressions_where(folder: Path) -> None:
    """Print where the suppression list of the newsletter in --dir is."""
    click.echo(str(_suppressions_file(folder, None)))


@suppressions.command("pull")
@click.argument("folder", metavar="[DIR]", required=False, default=".",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--since", default=None, help="Only entries created since: 2026-01-31, an ISO time, unix seconds, 30d.")
@click.option("--group", type=int, default=None, help="Unsubscribe group id (default: [sendgrid] asm_group_id).")
@click.option("--blocks", is_flag=True, help="Also blocks (SendGrid itself keeps mailing blocked addresses).")
@click.option("--all", "full", is_flag=True, help="Fetch every entry, not only those since the last pull.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts on stdout.")
@_supp_file
@handle_errors
def suppressions_pull(folder: Path, since: str | None, group: int | None, blocks: bool, full: bool, as_json: bool,
                      file: Path | None) -> None:
    """Merge SendGrid's unsubscribes, bounces, spam reports, invalid emails and group unsubscribes into the list.

    DIR is the newsletter folder (digest.toml there or above). Needs SENDGRID_API_KEY with Suppressions read.
    Each pull remembers when it ran: the next one asks only for what is new since (an hour of overlap).
    """
    from .deliver.backends.sendgrid.suppressions import describe_kind, parse_since, pull

    if full and since:
        raise UsageError("--all and --since ask for different ranges: give one of them")
    result = pull(folder, since=parse_since(since) if since else None, group=group, blocks=blocks, full=full,
                  file=file,
                  notify=lambda line: click.echo(line, err=True),
                  on_kind=lambda k: click.echo(describe_kind(k), err=as_json))
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        click.echo(f"{result.path}: added {result.new}, already listed {result.already}")


@cli.command("unsubscribe-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8025, show_default=True, help="Port (0: any free).")
@_supp_folder
@_supp_file
@handle_errors
def unsubscribe_server(host: str, port: int, folder: Path, file: Path | None) -> None:
    """Serve unsubscribe links (GET confirmation page, RFC 8058 one-click POST) into the suppression list.

    Needs DIGEST_UNSUBSCRIBE_SECRET (the one the sends used). Put it behind an https web server; the WSGI
    app for any server is digest.deliver.unsubscribe:application.
    """
    from .deliver.unsubscribe import make_app, serve

    app = make_app(folder, suppressions_file=file)
    try:
        serve(app, host, port, ready=lambda url: click.echo(
            f"unsubscribe server on {url} (suppressions: {app.suppressions_file}); Ctrl-C stops", err=True))
    except OSError as exc:
        raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="digest")


if __name__ == "__main__":
    main()
