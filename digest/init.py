"""``digest init DIR``: start a newsletter folder.

Writes a commented ``digest.toml`` (every table and key from the settings declaration, defaults commented
out, the values given set), a ``.gitignore`` for what digest generates, and a sample ``recipients.csv``.
Refuses to overwrite any of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .config import CONFIG_NAME, commented_toml
from .errors import DigestError, UsageError

GITIGNORE = """\
# Written by `digest init`: what digest generates, rebuilt or kept elsewhere.
# build output and caches
build/
.cache/
site/
__pycache__/
# outboxes, send journals, scheduled-send and suppression-pull state
outbox/
*.sqlite
*.sqlite-wal
*.sqlite-shm
sendgrid-schedule.json
.*-pulled.json
# subscriber and suppressed addresses are personal data: keep them out of git
recipients*.csv
suppressions.csv
"""

RECIPIENTS = """\
email,first_name
ada@example.com,Ada
grace@example.org,Grace
"""

RECIPIENTS_NAME = "recipients.csv"


@dataclass
class InitResult:
    folder: Path
    written: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # settings still needed before a send


def parse_unsubscribe(value: str) -> tuple[str, str]:
    """``mailto:ADDR`` → ("mailto", ADDR); an https URL → ("url", URL); anything else is a UsageError."""
    value = value.strip()
    if value.lower().startswith("mailto:"):
        address = value[len("mailto:"):]
        check_email(address, "--unsubscribe mailto: address")
        return "mailto", address
    if value.lower().startswith("https://") and len(value) > len("https://"):
        return "url", value
    raise UsageError(f"--unsubscribe {value!r} is neither mailto:ADDRESS nor an https:// URL",
                     "e.g. --unsubscribe mailto:unsubscribe@example.com or "
                     "--unsubscribe 'https://example.com/unsubscribe?t={token}'")


def check_email(value: str, what: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise UsageError(f"{what} {value!r} is not an email address: {exc}") from None
    return value


def init_folder(folder: Path | str, *, name: str = "", from_email: str = "", postal_address: str = "",
                unsubscribe: str = "") -> InitResult:
    """Write digest.toml, .gitignore and recipients.csv into ``folder`` (created when missing)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DigestError(f"{folder} exists and is not a folder")
    targets = {CONFIG_NAME: folder / CONFIG_NAME, ".gitignore": folder / ".gitignore",
               RECIPIENTS_NAME: folder / RECIPIENTS_NAME}
    present = [p for p in targets.values() if p.exists()]
    if present:
        raise DigestError(f"{present[0]} already exists: digest init never overwrites",
                          "edit it, or choose another folder")
    values: dict[str, dict[str, Any]] = {"newsletter": {}, "unsubscribe": {}}
    if name.strip():
        values["newsletter"]["name"] = name.strip()
    if from_email.strip():
        values["newsletter"]["from_email"] = check_email(from_email.strip(), "--from-email")
    if postal_address.strip():
        values["newsletter"]["postal_address"] = " ".join(postal_address.split())
    if unsubscribe.strip():
        kind, target = parse_unsubscribe(unsubscribe)
        values["unsubscribe"][kind] = target
    result = InitResult(folder)
    if "from_email" not in values["newsletter"]:
        result.missing.append("[newsletter] from_email")
    if "postal_address" not in values["newsletter"]:
        result.missing.append("[newsletter] postal_address")
    if not values["unsubscribe"]:
        result.missing.append("[unsubscribe] url or mailto")
    folder.mkdir(parents=True, exist_ok=True)
    texts = {CONFIG_NAME: commented_toml(values), ".gitignore": GITIGNORE, RECIPIENTS_NAME: RECIPIENTS}
    for key, path in targets.items():
        with open(path, "x", encoding="utf-8", newline="\n") as fh:  # "x": never overwrite, even in a race
            fh.write(texts[key])
        result.written.append(path)
    if os.name == "posix":
        (folder / RECIPIENTS_NAME).chmod(0o600)  # subscriber addresses: readable by their owner only
    return result
