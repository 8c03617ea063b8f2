"""Newsletter settings from ``digest.toml``, found in the issue folder or one of its parents.

Every table and key is declared once below (``TABLES``): its type, default and a one-line description.
``load_settings`` validates the file against that declaration: an unknown table or key is a warning naming
the file, the key and the closest known name; a value of the wrong type is a ``ConfigError`` naming the key
and the type it expects. ``digest init`` writes its commented digest.toml from the same declaration, and
``digest config`` prints the effective value of each key and where it came from.

Secrets never live here: the SendGrid key, SMTP password and unsubscribe signing secret come from the
environment.
"""

from __future__ import annotations

import copy
import difflib
import os
import sys
import tomllib
import typing
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

CONFIG_NAME = "digest.toml"


class Table:
    """A declared table. Read-only mapping access (``t["key"]``, ``t.get("key")``) is kept for older callers."""

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.keys() else default

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]  # type: ignore[arg-type]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())


def key(default: Any, doc: str, *, choices: tuple[str, ...] = (), env: str = "") -> Any:
    """Declare one setting: its default, a one-line description, allowed values, an environment override."""
    meta = {"doc": doc, "choices": choices, "env": env}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


# --- the declaration: one frozen dataclass per table. `digest init`'s file, `digest config`, DEFAULTS and the
# --- validation are all derived from these classes, so they cannot drift apart.


@dataclass(frozen=True)
class NewsletterSettings(Table):
    """Who sends the newsletter and how it looks."""

    name: str = key("My Digest", "the newsletter's name (header, archive title, List-Id)")
    from_email: str = key("", "sender address, required to send, e.g. news@example.com")
    from_name: str = key("", "sender display name; empty: the newsletter's name")
    reply_to: str = key("", "Reply-To address")
    postal_address: str = key("", "postal address in the footer: required to send (CAN-SPAM)")
    language: str = key("en", "language of the email (html lang)")
    brand_color: str = key("#1a73e8", "accent colour of the theme")
    logo_url: str = key("", "https URL of a logo for the header")
    web_base_url: str = key("", "where build/web.html is published ({slug} is filled): the view-in-browser link")
    archive_base_url: str = key("", "when set, view-in-browser points to {archive_base_url}/{slug}/")
    images_base_url: str = key("", "where local images copied into the build are served from")
    list_id: str = key("", "List-Id header; empty: derived from the from_email domain")
    subscribe_url: str = key("", "a subscribe page linked from the web archive and forwarded copies")


@dataclass(frozen=True)
class UnsubscribeSettings(Table):
    """How recipients leave: at least one of the two is required to send."""

    url: str = key("", "https URL template; {token} (signed, needs DIGEST_UNSUBSCRIBE_SECRET) or {email}")
    mailto: str = key("", "mailto address for List-Unsubscribe")


@dataclass(frozen=True)
class MergeSettings(Table):
    """Defaults for merge fields when a recipient's value is empty (any key, text values)."""

    first_name: str = key("there", "used by {{ merge('first_name') }} when the CSV has no value")


@dataclass(frozen=True)
class LinksSettings(Table):
    """UTM parameters added to article links."""

    utm: bool = key(False, "add utm_source/utm_medium/utm_campaign to article links")
    utm_source: str = key("newsletter", "utm_source value")
    utm_medium: str = key("email", "utm_medium value")
    utm_campaign: str = key("", "utm_campaign value; empty: the issue's slug")


@dataclass(frozen=True)
class TrackingSettings(Table):
    """Provider tracking (SendGrid): off unless turned on."""

    click: bool = key(False, "SendGrid click tracking (rewrites links)")
    open: bool = key(False, "SendGrid open tracking (a pixel)")


@dataclass(frozen=True)
class TeaserSettings(Table):
    """Teasers picked from each article."""

    max_chars: int = key(300, "teaser budget in characters")


@dataclass(frozen=True)
class FetchSettings(Table):
    """Fetching articles from URLs."""

    allow_hosts: list[str] = key([], "hosts a URL from content (redirect, feed entry, link) may reach on a "
                                         "loopback/private address; URLs you name may always be local")


@dataclass(frozen=True)
class SendgridSettings(Table):
    """The SendGrid backend (the key comes from SENDGRID_API_KEY)."""

    host: str = key("https://api.sendgrid.com", "API host, scheme and host only (EU: https://api.eu.sendgrid.com)",
                    env="DIGEST_SENDGRID_HOST")
    asm_group_id: int = key(0, "unsubscribe group id; 0: none")
    timeout: float = key(30.0, "seconds per HTTP request")
    batch_size: int = key(1000, "personalizations per request (at most 1000)")
    max_attempts: int = key(5, "attempts per request before giving up on a batch")
    deadline: float = key(0.0, "seconds one request may take over all its retries; 0: timeout x max_attempts x 2, "
                               "at least 60")
    backoff_base: float = key(0.5, "first retry wait in seconds (doubles each retry)")
    backoff_cap: float = key(30.0, "longest retry wait in seconds")
    concurrency: int = key(8, "requests in flight at once")


@dataclass(frozen=True)
class SmtpSettings(Table):
    """The SMTP backend (the password comes from DIGEST_SMTP_PASSWORD)."""

    host: str = key("localhost", "SMTP server")
    port: int = key(25, "SMTP port")
    security: str = key("none", "none, starttls or ssl", choices=("none", "starttls", "ssl"))
    user: str = key("", "login user; empty: no login")
    timeout: float = key(30.0, "seconds per SMTP command")
    batch_size: int = key(20, "recipients per journal batch (one message each, over one connection)")
    max_attempts: int = key(3, "attempts per message")
    connections: int = key(1, "SMTP connections in parallel")


@dataclass(frozen=True)
class SuppressionsSettings(Table):
    """The local suppression list no backend ever mails."""

    file: str = key("", "CSV path; empty: suppressions.csv beside digest.toml", env="DIGEST_SUPPRESSIONS")


@dataclass(frozen=True)
class EventsSettings(Table):
    """digest events-server: the signed SendGrid Event Webhook receiver."""

    max_age: float = key(600.0, "seconds a signed Event Webhook post may be old")
    max_body: int = key(16 * 1024 * 1024, "largest Event Webhook body in bytes")


@dataclass(frozen=True)
class FeedSettings(Table):
    """Feeds `digest new DIR --from-feeds` drafts an issue from (one [[feeds]] table each)."""

    url: str = key("", "the feed's URL (required)")
    limit: int = key(10, "newest entries taken per issue")
    section: str = key("", "section heading the entries go under")


TABLES: dict[str, type[Table]] = {
    "newsletter": NewsletterSettings, "unsubscribe": UnsubscribeSettings, "merge": MergeSettings,
    "links": LinksSettings, "tracking": TrackingSettings, "teaser": TeaserSettings, "fetch": FetchSettings,
    "sendgrid": SendgridSettings, "smtp": SmtpSettings, "suppressions": SuppressionsSettings,
    "events": EventsSettings,
}

# Free-form tables: any key is allowed, with values of this type (the declared keys keep their own types).
FREE_FORM: dict[str, Any] = {"merge": str}


@dataclass(frozen=True)
class Key:
    """One declared setting."""

    table: str
    name: str
    type: Any
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    env: str = ""

    @property
    def type_name(self) -> str:
        return _type_name(self.type)


def _keys(table: str, cls: type[Table]) -> dict[str, Key]:
    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):  # type: ignore[arg-type]
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        out[f.name] = Key(table, f.name, hints[f.name], default, f.metadata["doc"], f.metadata["choices"],
                          f.metadata["env"])
    return out


KEYS: dict[str, dict[str, Key]] = {t: _keys(t, cls) for t, cls in TABLES.items()}
FEED_KEY: dict[str, Key] = _keys("feeds", FeedSettings)
TABLE_DOCS: dict[str, str] = {t: (cls.__doc__ or "").strip() for t, cls in TABLES.items()}
FEEDS_DOC = (FeedSettings.__doc__ or "").strip()

# Today's dict-of-dicts shape, filled from the declaration (kept for callers that index settings["table"]).
DEFAULTS: dict[str, Any] = {t: {k.name: copy.deepcopy(k.default) for k in keys.values()} for t, keys in KEYS.items()}


def _type_name(tp: Any) -> str:
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if typing.get_origin(tp) is list:
        return f"a list of {_type_name(typing.get_args(tp)[0]).removeprefix('a ')}s"
    return getattr(tp, "__name__", str(tp))


def _type_ok(tp: Any, value: Any) -> bool:
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if typing.get_origin(tp) is list:
        return isinstance(value, list) and all(_type_ok(typing.get_args(tp)[0], v) for v in value)
    return isinstance(value, tp)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{value!r}"


def _closest(name: str, known: list[str]) -> str:
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean `{match[0]}`?" if match else f" (known: {', '.join(known)})"


def validate(raw: dict[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    """Check ``raw`` (a parsed digest.toml) against the declaration.

    Returns the known part (unknown tables/keys left out) and the warnings; raises ConfigError on the first
    value of the wrong type, naming the file, the key and the type expected.
    """
    warnings: list[str] = []
    known: dict[str, Any] = {}
    tables = [*KEYS, "feeds"]

    def check(table: str, key: Key, value: Any, label: str) -> Any:
        if not _type_ok(key.type, value):
            raise ConfigError(f"{where}: {label} must be {key.type_name}, not {_show(value)}",
                              f"for example: {key.name} = {toml_value(key.default if key.default != '' else 'text')}")
        if key.type is float:
            value = float(value)
        if key.choices and str(value).lower() not in key.choices:
            raise ConfigError(f"{where}: {label} must be one of {', '.join(key.choices)}, not {value!r}")
        return value

    for table, body in raw.items():
        if table == "feeds":
            if not isinstance(body, list) or not all(isinstance(f, dict) for f in body):
                raise ConfigError(f"{where}: `feeds` must be [[feeds]] tables, each with a url")
            feeds = []
            for i, feed in enumerate(body, start=1):
                entry = {}
                for k, v in feed.items():
                    if k not in FEED_KEY:
                        warnings.append(f"{where}: `[[feeds]] {k}` (feed {i}): unknown setting"
                                        f"{_closest(k, list(FEED_KEY))}")
                        continue
                    entry[k] = check("feeds", FEED_KEY[k], v, f"`[[feeds]] {k}` (feed {i})")
                feeds.append(entry)
            known["feeds"] = feeds
            continue
        if table not in KEYS:
            if isinstance(body, dict):
                warnings.append(f"{where}: `[{table}]`: unknown table{_closest(table, tables)}")
                continue
            homes = [t for t, keys in KEYS.items() if table in keys]
            hint = (f"; move it under [{homes[0]}]" if homes
                    else _closest(table, [k for keys in KEYS.values() for k in keys]))
            warnings.append(f"{where}: `{table}`: unknown setting outside any table{hint}")
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: `{table}` must be a table ([{table}]), not {_show(body)}")
        out: dict[str, Any] = {}
        for k, v in body.items():
            label = f"`[{table}] {k}`"
            if table in FREE_FORM and k not in KEYS[table]:
                if not _type_ok(FREE_FORM[table], v):
                    raise ConfigError(f"{where}: {label} must be {_type_name(FREE_FORM[table])}, not {_show(v)}")
                out[k] = v
                continue
            if k not in KEYS[table]:
                warnings.append(f"{where}: {label}: unknown setting{_closest(k, list(KEYS[table]))}")
                continue
            out[k] = check(table, KEYS[table][k], v, label)
        known[table] = out
    return known, warnings


_T = typing.TypeVar("_T", bound=Table)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


@dataclass
class Settings:
    """Parsed settings.

    ``data`` holds every table with defaults filled in (the dict-of-dicts shape older callers index);
    ``path`` the file (or None); ``given`` the (table, key) pairs the file set. Attribute access gives
    typed tables: ``settings.sendgrid.batch_size`` is an int, ``settings.teaser.max_chars`` too.
    """

    data: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    given: set[tuple[str, str]] = field(default_factory=set)

    def __getitem__(self, table: str) -> dict[str, Any]:
        return self.data[table]

    def table(self, cls: type[_T]) -> _T:
        """The typed table ``cls`` from ``data`` (free-form keys, e.g. extra merge fields, are left out)."""
        name = next(t for t, c in TABLES.items() if c is cls)
        values = {k: v for k, v in self.data.get(name, {}).items() if k in KEYS[name]}
        return cls(**values)

    # Typed tables; each also answers .get()/[] like the dict it used to be.
    @property
    def newsletter(self) -> NewsletterSettings:
        return self.table(NewsletterSettings)

    @property
    def unsubscribe(self) -> UnsubscribeSettings:
        return self.table(UnsubscribeSettings)

    @property
    def links(self) -> LinksSettings:
        return self.table(LinksSettings)

    @property
    def tracking(self) -> TrackingSettings:
        return self.table(TrackingSettings)

    @property
    def teaser(self) -> TeaserSettings:
        return self.table(TeaserSettings)

    @property
    def fetch(self) -> FetchSettings:
        return self.table(FetchSettings)

    @property
    def sendgrid(self) -> SendgridSettings:
        return self.table(SendgridSettings)

    @property
    def smtp(self) -> SmtpSettings:
        return self.table(SmtpSettings)

    @property
    def suppressions(self) -> SuppressionsSettings:
        return self.table(SuppressionsSettings)

    @property
    def events(self) -> EventsSettings:
        return self.table(EventsSettings)

    @property
    def merge(self) -> dict[str, str]:
        """Merge-field defaults: every key of [merge] (free-form), text values."""
        return {str(k): str(v) for k, v in self.data.get("merge", {}).items()}

    @property
    def root(self) -> Path | None:
        """The folder holding digest.toml (user templates/ live beside it)."""
        return self.path.parent if self.path else None

    @property
    def from_name(self) -> str:
        return self.data["newsletter"]["from_name"] or self.data["newsletter"]["name"]

    @property
    def feeds(self) -> list[dict[str, Any]]:
        return list(self.data.get("feeds", []))

    def allow_hosts(self) -> list[str]:
        """``[fetch] allow_hosts``: host names (or IP addresses) a URL from content may reach on a local address."""
        value = self.data.get("fetch", {}).get("allow_hosts") or []
        if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
            raise ConfigError(f"{self.path or CONFIG_NAME}: [fetch] allow_hosts must be a list of host names",
                              'for example allow_hosts = ["intranet.example.org"]')
        return [h.strip() for h in value if h.strip()]

    def origin(self, table: str, key: str) -> str:
        """Where the effective value of ``[table] key`` comes from: an environment variable, the file, or default."""
        declared = KEYS.get(table, {}).get(key)
        if declared is not None and declared.env and os.environ.get(declared.env):
            return f"env {declared.env}"
        if (table, key) in self.given and self.path is not None:
            return str(self.path)
        return "default"

    def effective(self, table: str, key: str) -> Any:
        """The value in effect, environment overrides included."""
        declared = KEYS.get(table, {}).get(key)
        if declared is not None and declared.env and os.environ.get(declared.env):
            return os.environ[declared.env]
        return self.data[table][key]

    def sendgrid_host(self) -> str:
        """``DIGEST_SENDGRID_HOST`` beats ``[sendgrid] host``: scheme and host only, no /v3."""
        from_env = os.environ.get("DIGEST_SENDGRID_HOST")
        host = (from_env or str(self.data["sendgrid"]["host"])).strip().rstrip("/").removesuffix("/v3")
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            where = "DIGEST_SENDGRID_HOST" if from_env else "[sendgrid] host"
            raise ConfigError(f"{where} is not a scheme and host: {host[:80]!r}",
                              "for example https://api.sendgrid.com (or https://api.eu.sendgrid.com)")
        return host


def find_config(start: Path) -> Path | None:
    """digest.toml in ``start`` or its nearest parent that has one."""
    start = start.resolve()
    for folder in [start, *start.parents]:
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


_reported: set[str] = set()


def load_settings(start: Path, warn: Callable[[str], None] | None = _stderr_warning) -> Settings:
    """The settings for the issue or newsletter folder ``start``: validated, defaults filled in.

    Unknown tables and keys are reported through ``warn`` once per process (a send loads settings more than
    once); ``warn=None`` reports nothing (the warnings stay on ``Settings.warnings``).
    """
    path = find_config(start)
    if path is None:
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    known, warnings = validate(raw, str(path))
    for message in warnings:
        if warn is not None and message not in _reported:
            _reported.add(message)
            warn(message)
    given = {(t, k) for t, body in known.items() if isinstance(body, dict) for k in body}
    return Settings(_merge(DEFAULTS, known), path, warnings, given)


# --- the commented digest.toml `digest init` writes --------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def commented_toml(values: dict[str, dict[str, Any]] | None = None) -> str:
    """A digest.toml with every table and key: given ``values`` set, every other key commented out at its default."""
    values = values or {}
    lines = ["# digest.toml: settings of this newsletter. Every key shows its default; uncomment to change it.",
             "# `digest config .` prints the settings in effect and where each came from.", ""]
    for table, keys in KEYS.items():
        lines += [f"# {TABLE_DOCS[table]}", f"[{table}]"]
        for key in keys.values():
            note = f"  # {key.doc}" + (f" (env {key.env} wins)" if key.env else "")
            if key.name in values.get(table, {}):
                lines.append(f"{key.name} = {toml_value(values[table][key.name])}{note}")
            else:
                lines.append(f"# {key.name} = {toml_value(key.default)}{note}")
        lines.append("")
    lines += [f"# {FEEDS_DOC}", "# [[feeds]]"]
    for key in FEED_KEY.values():
        example = "https://example.com/feed.xml" if key.name == "url" else key.default
        lines.append(f"# {key.name} = {toml_value(example)}  # {key.doc}")
    return "\n".join(lines) + "\n"


__all__ = ["CONFIG_NAME", "DEFAULTS", "KEYS", "TABLES", "Key", "Settings", "Table", "commented_toml",
           "find_config", "key", "load_settings", "validate"]
