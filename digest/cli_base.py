"""What every ``digest`` command shares: one-line errors and exit codes (``handle_errors``), ``--debug``
anywhere on the line, and the click classes that give every command that flag."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from .errors import DigestError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(exc: DigestError) -> None:
    click.echo(f"digest: error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"  hint: {exc.hint}", err=True)
    sys.exit(exc.exit_code)


def debug_on() -> bool:
    """--debug given anywhere on the command line, or DIGEST_DEBUG=1."""
    if os.environ.get("DIGEST_DEBUG", "").strip() not in ("", "0"):
        return True
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.find_root().meta.get("digest.debug"))


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.DEBUG if debug else logging.WARNING)
    # python-http-client logs the bearer key and whole request bodies at DEBUG: never let it.
    logging.getLogger("python_http_client").setLevel(logging.WARNING)


def _debug_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.find_root().meta["digest.debug"] = True
        _configure_logging(True)
    return value


def handle_errors(func: F) -> F:
    """Turn DigestError into a one-line message and its exit code; unexpected errors too, unless --debug."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DigestError as exc:  # one line even with --debug: it names the thing and what to do
            _fail(exc)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            raise  # the reader went away (`| head -1`): click ends quietly
        except KeyboardInterrupt:
            click.echo("digest: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - last line of defence: no tracebacks for users
            if debug_on():
                raise
            click.echo(f"digest: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
                       err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


class DigestCommand(click.Command):
    """Every command takes --debug too, so it works before or after the command name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(click.Option(["--debug"], is_flag=True, expose_value=False, is_eager=True,
                                        callback=_debug_flag, help="Show tracebacks and debug logs."))


class DigestGroup(click.Group):
    command_class = DigestCommand
    group_class = type  # subgroups are DigestGroups as well
