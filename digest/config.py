"""Newsletter settings from ``digest.toml``, found in the issue folder or one of its parents.

Every setting has a documented default (see ``DEFAULTS`` and README "Configuration"); secrets never live
here: the SendGrid key, SMTP password and unsubscribe signing secret come from the environment.
"""

from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

CONFIG_NAME = "digest.toml"

DEFAULTS: dict[str, Any] = {
    "newsletter": {
        "name": "My Digest",
        "from_email": "",  # required to send, e.g. "news@example.com"
        "from_name": "",  # display name; defaults to newsletter.name
        "reply_to": "",
        "postal_address": "",  # CAN-SPAM: required to send
        "language": "en",
        "brand_color": "#1a73e8",
        "logo_url": "",
        "web_base_url": "",  # where build/web.html is published; "view in browser" link
        "archive_base_url": "",  # when set, view-in-browser points to {archive_base_url}/{slug}/
        "images_base_url": "",  # where local images copied into the build are served from
        "list_id": "",  # List-Id header; defaults to the from domain
    },
    "unsubscribe": {
        "url": "",  # https URL template; {token} and {email} are filled per recipient
        "mailto": "",  # mailto address for List-Unsubscribe
    },
    "merge": {"first_name": "there"},  # defaults for merge fields when a recipient's value is empty
    "links": {"utm": False, "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": ""},
    "tracking": {"click": False, "open": False},
    "teaser": {"max_chars": 300},
    "sendgrid": {
        "host": "https://api.sendgrid.com",
        "asm_group_id": 0,
        "timeout": 30.0,
        "batch_size": 1000,
        "max_attempts": 5,
        "concurrency": 24,  # requests in flight at most (AIMD below it on 429s and runs of 5xx)
    },
    "smtp": {
        "host": "localhost",
        "port": 25,
        "security": "none",  # none | starttls | ssl
        "user": "",  # the password comes from DIGEST_SMTP_PASSWORD
        "timeout": 30.0,
        "batch_size": 20,  # recipients per journal batch (one message each, over one connection)
        "max_attempts": 3,
        "connections": 1,  # persistent connections sending at once (at most 8)
    },
    # The local suppression list no backend ever mails; "" means suppressions.csv beside digest.toml
    # (DIGEST_SUPPRESSIONS in the environment wins).
    "suppressions": {"file": ""},
}


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
    """Parsed settings. ``data`` holds every table with defaults filled in; ``path`` the file (or None)."""

    data: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    path: Path | None = None

    def __getitem__(self, table: str) -> dict[str, Any]:
        return self.data[table]

    @property
    def root(self) -> Path | None:
        """The folder holding digest.toml (user templates/ live beside it)."""
        return self.path.parent if self.path else None

    @property
    def newsletter(self) -> dict[str, Any]:
        return self.data["newsletter"]

    @property
    def from_name(self) -> str:
        return self.newsletter["from_name"] or self.newsletter["name"]

    @property
    def feeds(self) -> list[dict[str, Any]]:
        return list(self.data.get("feeds", []))

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


def load_settings(start: Path) -> Settings:
    path = find_config(start)
    if path is None:
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return Settings(_merge(DEFAULTS, raw), path)
