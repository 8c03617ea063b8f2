"""The local suppression list: addresses no backend ever mails again.

Where it lives (first that applies):

1. ``DIGEST_SUPPRESSIONS`` in the environment (a file path; handy for the unsubscribe server);
2. ``[suppressions] file`` in digest.toml, relative to the folder holding digest.toml;
3. ``suppressions.csv`` beside digest.toml (the newsletter folder);
4. without a digest.toml: ``suppressions.csv`` in the issue folder's parent (or the given newsletter folder).

The file is a CSV with the header ``email,reason,source,added`` (reason: unsubscribe, bounce, spam_report,
invalid, block, manual...; source: one-click, cli, sendgrid, ``sendgrid asm group N``...; added: ISO 8601 UTC).
``digest suppressions pull`` (``backends/sendgrid/suppressions.py``) merges SendGrid's lists in through ``add``.
It is only appended to, under an exclusive file lock, so the unsubscribe server and ``digest suppressions
add`` can write at the same time; an address already listed is not written twice. Addresses compare
without case.
"""

from __future__ import annotations

import csv
import datetime as _dt
import fcntl
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings, load_settings
from ..errors import DigestError
from .recipients import clean_value, iter_addresses, validate_address

SUPPRESSIONS_NAME = "suppressions.csv"
ENV = "DIGEST_SUPPRESSIONS"
HEADER = ["email", "reason", "source", "added"]


@dataclass
class Entry:
    email: str
    reason: str = "manual"
    source: str = "cli"
    added: str = ""


def suppressions_path(folder: Path | str, settings: Settings | None = None, *, issue_dir: bool = True) -> Path:
    """The suppression file for the issue folder (``issue_dir``) or newsletter folder ``folder``."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    settings = settings if settings is not None else load_settings(Path(folder))
    configured = str(settings.data.get("suppressions", {}).get("file") or "").strip()
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() or settings.root is None else settings.root / path
    if settings.root is not None:
        return settings.root / SUPPRESSIONS_NAME
    folder = Path(folder).resolve()
    return (folder.parent if issue_dir else folder) / SUPPRESSIONS_NAME


def key(address: str) -> str:
    """The comparison key: the normalized address when valid, lower-cased."""
    normalized, _ = validate_address(address.strip())
    return (normalized or address.strip()).lower()


def load(path: Path) -> set[str]:
    """Every suppressed address (keys); an absent file is an empty list."""
    out: set[str] = set()
    try:
        fh = path.open("r", encoding="utf-8-sig", errors="replace", newline="")
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise DigestError(f"{path}: cannot read the suppression list: {exc.strerror or exc}") from None
    with fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header and "@" in header[0]:  # a bare list without header: the first line is an address
            out.add(key(header[0]))
        for row in reader:
            if row and row[0].strip():
                out.add(key(row[0]))
    return out


def add(path: Path, entries: Iterable[Entry]) -> int:
    """Append the entries not yet listed (one locked append); returns how many were new."""
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fh = path.open("a+", encoding="utf-8", newline="")
    except OSError as exc:
        raise DigestError(f"{path}: cannot write the suppression list: {exc.strerror or exc}") from None
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            existing = load(path)
            fh.seek(0, os.SEEK_END)
            empty = fh.tell() == 0
            writer = csv.writer(fh, lineterminator="\n")
            if empty:
                writer.writerow(HEADER)
            new = 0
            for entry in entries:
                k = key(entry.email)
                if not k or k in existing:
                    continue
                existing.add(k)
                writer.writerow([clean_value(entry.email), clean_value(entry.reason), clean_value(entry.source),
                                 entry.added or now])
                new += 1
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return new


def entries(path: Path) -> list[Entry]:
    """The listed entries in file order (for ``digest suppressions list``)."""
    out: list[Entry] = []
    try:
        fh = path.open("r", encoding="utf-8-sig", errors="replace", newline="")
    except FileNotFoundError:
        return out
    with fh:
        for row in csv.DictReader(fh):
            out.append(Entry(row.get("email") or "", row.get("reason") or "", row.get("source") or "",
                             row.get("added") or ""))
    return out


@dataclass
class AddResult:
    added: int
    already: int
    problems: list[str]


def add_from_args(path: Path, items: Iterable[str], reason: str = "manual", source: str = "cli") -> AddResult:
    """``digest suppressions add``: each item is an address or a CSV file with an ``email`` column."""
    to_add: list[Entry] = []
    problems: list[str] = []
    for item in items:
        if "@" not in item and (Path(item).is_file() or item.lower().endswith(".csv")):
            for line, raw in iter_addresses(Path(item)):
                normalized, why = validate_address(raw)
                if normalized is None:
                    problems.append(f"{item}: line {line}: {raw!r}: {why}")
                    continue
                to_add.append(Entry(normalized, reason, source))
        else:
            normalized, why = validate_address(item.strip())
            if normalized is None:
                problems.append(f"{item!r}: {why}")
                continue
            to_add.append(Entry(normalized, reason, source))
    added = add(path, to_add)
    return AddResult(added, len(to_add) - added, problems)
