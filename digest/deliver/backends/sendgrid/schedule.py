"""Scheduled sends: the ``send_at`` check and the issue folder's record of a scheduled batch."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from ....errors import DigestError, UsageError
from ....folder import IssueFolder

MAX_SCHEDULE_AHEAD = 72 * 3600  # send_at at most 72 hours ahead
PROVIDER = "sendgrid"  # the issue folder's sendgrid-schedule.json: the batch_id of a scheduled send


def check_send_at(send_at: int, now: float | None = None) -> int:
    """``send_at`` as a unix timestamp, refused unless it is in the future and at most 72 h ahead."""
    now = time.time() if now is None else now
    if send_at <= now:
        raise UsageError(f"--at {_iso(send_at)} is in the past", hint="give a time within the next 72 hours")
    if send_at - now > MAX_SCHEDULE_AHEAD:
        raise UsageError(
            f"--at {_iso(send_at)} is more than 72 hours ahead",
            hint="SendGrid schedules at most 72 hours ahead; send again closer to the date",
        )
    return int(send_at)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))

def save_schedule(directory: IssueFolder | Path | str, batch_id: str, send_at: int, run: int | None = None) -> Path:
    """Record the scheduled batch and the journal runs that sent under it (``runs``: ``--cancel`` puts their
    recipients back to pending); a resumed scheduled send of the same batch adds its run."""
    path = IssueFolder.of(directory).schedule_file(PROVIDER)
    runs: list[int] = []
    with contextlib.suppress(DigestError):
        before = load_schedule(directory)
        if before and before.get("batch_id") == batch_id and before.get("status") == "scheduled":
            runs = [int(r) for r in before.get("runs") or [] if isinstance(r, int)]
    if run is not None and run not in runs:
        runs.append(run)
    data: dict[str, Any] = {"batch_id": batch_id, "send_at": send_at, "status": "scheduled"}
    if runs:
        data["runs"] = runs
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    return path


def load_schedule(directory: IssueFolder | Path | str) -> dict[str, Any] | None:
    path = IssueFolder.of(directory).schedule_file(PROVIDER)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise DigestError(f"{path}: not valid JSON", hint="delete it only if no scheduled send is pending") from None
    return data if isinstance(data, dict) and data.get("batch_id") else None


# ------------------------------------------------------------------------------------------------- the I/O


def mark_cancelled(directory: IssueFolder | Path | str) -> None:
    """The recorded scheduled send is cancelled (the file stays, with ``"status": "cancelled"``)."""
    path = IssueFolder.of(directory).schedule_file(PROVIDER)
    path.write_text(path.read_text(encoding="utf-8").replace('"status": "scheduled"', '"status": "cancelled"'),
                    encoding="utf-8")
