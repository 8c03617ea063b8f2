"""The delivery commands beside ``digest send``: the suppression list (``digest suppressions``), the
unsubscribe and Event Webhook servers, and ``digest report``. ``cli.py`` adds them to the ``digest`` group."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .cli_base import DigestCommand, DigestGroup, handle_errors
from .errors import DigestError, UsageError


@click.group(cls=DigestGroup)
def suppressions() -> None:
    """The local suppression list: addresses no backend ever mails (see `digest suppressions path`).

    Every subcommand takes the newsletter folder as --dir (default: the current folder).
    """


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
    """Add each ITEM: an address, or a CSV file with an `email` column.

    \b
    Example:
      digest suppressions add reader@example.com bounces.csv --reason bounce --dir my-news
    """
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
    """Print the suppressed addresses (email, reason, source, added).

    \b
    Example:
      digest suppressions list --dir my-news --json
    """
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
    """Print where the suppression list of the newsletter in --dir is.

    \b
    Example:
      digest suppressions path --dir my-news
    """
    click.echo(str(_suppressions_file(folder, None)))


@suppressions.command("pull")
@click.argument("legacy_dir", metavar="", required=False, default=None,
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--since", default=None, help="Only entries created since: 2026-01-31, an ISO time, unix seconds, 30d.")
@click.option("--group", type=int, default=None, help="Unsubscribe group id (default: [sendgrid] asm_group_id).")
@click.option("--blocks", is_flag=True, help="Also blocks (SendGrid itself keeps mailing blocked addresses).")
@click.option("--all", "full", is_flag=True, help="Fetch every entry, not only those since the last pull.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts on stdout.")
@_supp_folder
@_supp_file
@handle_errors
def suppressions_pull(legacy_dir: Path | None, since: str | None, group: int | None, blocks: bool, full: bool,
                      as_json: bool, folder: Path, file: Path | None) -> None:
    """Merge SendGrid's unsubscribes, bounces, spam reports, invalid emails and group unsubscribes into the list.

    Needs SENDGRID_API_KEY with Suppressions read. Each pull remembers when it ran: the next one asks only
    for what is new since (an hour of overlap).

    \b
    Example:
      digest suppressions pull --dir my-news --since 30d
    """
    if legacy_dir is not None:  # the folder used to be an argument: still read, with a nudge
        click.echo("warning: give the newsletter folder as --dir (like the other suppressions commands)",
                   err=True)
        folder = legacy_dir
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


@click.command("unsubscribe-server", cls=DigestCommand)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8643, show_default=True, help="Port (0: any free).")
@_supp_folder
@_supp_file
@handle_errors
def unsubscribe_server(host: str, port: int, folder: Path, file: Path | None) -> None:
    """Serve unsubscribe links (GET confirmation page, RFC 8058 one-click POST) into the suppression list.

    Needs DIGEST_UNSUBSCRIBE_SECRET (the one the sends used). Put it behind an https web server; the WSGI
    app for any server is digest.deliver.unsubscribe:application.

    \b
    Example:
      DIGEST_UNSUBSCRIBE_SECRET=... digest unsubscribe-server --dir my-news --port 8643
    """
    from .deliver.unsubscribe import make_app, serve

    app = make_app(folder, suppressions_file=file)
    try:
        serve(app, host, port, ready=lambda url: click.echo(
            f"unsubscribe server on {url} (suppressions: {app.suppressions_file}); Ctrl-C stops", err=True))
    except OSError as exc:
        raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@click.command("events-server", cls=DigestCommand)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8090, show_default=True, help="Port (0: any free).")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="The newsletter folder: its issue folders are below it.")
@handle_errors
def events_server(host: str, port: int, folder: Path) -> None:
    """Receive SendGrid's Event Webhook: signed events into each issue, bounces and complaints suppressed.

    Needs DIGEST_SENDGRID_WEBHOOK_KEY (the verification key SendGrid shows). Put it behind an https web
    server; the WSGI app for any server is digest.deliver.events:application (see docs/reporting.md).

    \b
    Example:
      DIGEST_SENDGRID_WEBHOOK_KEY=... digest events-server --dir my-news --port 8090
    """
    from .deliver.events import make_app, serve

    app = make_app(folder)
    try:
        serve(app, host, port, ready=lambda url: click.echo(
            f"events server on {url} (newsletter: {app.root}); Ctrl-C stops", err=True))
    except OSError as exc:
        app.close()
        raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@click.command(cls=DigestCommand)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as an HTML page with charts.")
@handle_errors
def report(directory: Path, as_json: bool, html_out: Path | None) -> None:
    """Show the results of the issue in DIRECTORY: sent, delivered, bounced, opened, clicked per link...

    \b
    Example:
      digest report my-news/2026-11 --html report.html
    """
    from .deliver.report import issue_report, text_lines

    data = issue_report(directory)
    if html_out is not None:
        from .deliver.report_html import render_html

        try:
            html_out.write_text(render_html(data), encoding="utf-8")
        except OSError as exc:
            raise DigestError(f"{html_out}: cannot write the report: {exc.strerror or exc}") from None
        click.echo(f"wrote {html_out}", err=True)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for line in text_lines(data):
            click.echo(line)
