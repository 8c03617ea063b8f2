"""Errors a user can cause. The CLI prints them on one line (plus a hint) and exits with ``exit_code``."""

from __future__ import annotations


class DigestError(Exception):
    """A failure the user can act on: names the thing (file, line, URL) and what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(DigestError):
    """Bad arguments or options: exit 2."""

    exit_code = 2


class SourceError(DigestError):
    """An article source could not be read or holds no article. ``source`` is the SOURCE as given."""

    def __init__(self, source: str, message: str, hint: str | None = None) -> None:
        super().__init__(f"{source}: {message}", hint)
        self.source = source


class ConfigError(DigestError):
    """digest.toml or issue.toml is missing a value or holds a bad one."""


class SendRefused(DigestError):
    """A send is blocked before anything leaves (no sender, no unsubscribe method, ...)."""
