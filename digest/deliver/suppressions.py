"""The local suppression list: addresses no backend ever mails again.

Where it lives (first that applies):

1. ``DIGEST_SUPPRESSIONS`` in the environment (a file path; handy for the unsubscribe server);
2. ``[suppressions] file`` in digest.toml, relative to the folder holding digest.toml;
3. ``suppressions.csv`` beside digest.toml (the newsletter folder);
4. without a digest.toml: ``suppressions.csv`` in the issue folder's parent (or the given newsletter folder).

The file is a CSV with the header ``email,reason,source,added`` (reason: unsubscribe, bounce, spam_report,
invalid, block, manual...; source: one-click, cli, sendgrid, ``sendgrid asm group N``...; added: ISO 8601 UTC).
``digest suppressions pull`` (``backends/sendgrid/suppressions.py``) merges SendGrid's lists in through ``add``.
A cell that would start with ``= + - @`` is written with a leading ``'`` (spreadsheets then show it as text,
never run it as a formula) and read back without it. It is only appended to, under an exclusive file lock
(``flock`` on POSIX, an ``msvcrt`` byte-range lock on Windows; see ``_exclusive``), so the unsubscribe server
and ``digest suppressions add`` can write at the same time; an address already listed is not written twice.
Addresses compare without case.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..config import Settings, load_settings
from ..errors import DigestError
from .recipients import clean_value, iter_addresses, validate_address

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    fcntl: Any = None
else:
    import fcntl

    msvcrt: Any = None

# Windows locks byte ranges, and a locked byte cannot be read through another handle: lock one byte far past
# any real list's end, so readers (``load``) are never blocked, only other writers.
_WIN_LOCK_OFFSET = 1 << 40


@contextlib.contextmanager
def _exclusive(fh: IO[str]) -> Iterator[None]:
    """Hold an exclusive lock on the open file ``fh`` (blocking) for the ``with`` block."""
    if fcntl is not None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return
    fd = fh.fileno()  # pragma: no cover - Windows
    os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
    while True:
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for ~10 s, then raises: keep waiting
            break
        except OSError:
            continue
    try:
        yield
    finally:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

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


_FORMULA = "=+-@\t\r"  # a cell starting with one of these is a formula to spreadsheet programs


def neutralise(value: str) -> str:
    """``value`` for a CSV cell a spreadsheet will not run as a formula (``=HYPERLINK(...)@x.org``): a leading
    ``'`` before ``= + - @`` (and before a ``'`` that precedes one, so that ``unneutralise`` is exact)."""
    if value and (value[0] in _FORMULA or unneutralise(value) != value):
        return "'" + value
    return value


def unneutralise(value: str) -> str:
    """The value ``neutralise`` was given (files written before it are read as they are)."""
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA + "'":
        return value[1:]
    return value


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
            out.add(key(unneutralise(header[0].strip())))
        for row in reader:
            if row and row[0].strip():
                out.add(key(unneutralise(row[0].strip())))
    return out


def add(path: Path, entries: Iterable[Entry]) -> int:
    """Append the entries not yet listed (one locked append); returns how many were new."""
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fh = path.open("a+", encoding="utf-8", newline="")
    except OSError as exc:
        raise DigestError(f"{path}: cannot write the suppression list: {exc.strerror or exc}") from None
    with fh, _exclusive(fh):
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
            writer.writerow([neutralise(clean_value(entry.email)), neutralise(clean_value(entry.reason)),
                             neutralise(clean_value(entry.source)), neutralise(entry.added or now)])
            new += 1
        fh.flush()
        os.fsync(fh.fileno())
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
            out.append(Entry(unneutralise(row.get("email") or ""), unneutralise(row.get("reason") or ""),
                             unneutralise(row.get("source") or ""), unneutralise(row.get("added") or "")))
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
