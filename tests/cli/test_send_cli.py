"""`digest send`, `digest suppressions` through click's CliRunner: JSON on stdout, exit codes, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.deliver.journal import Journal, journal_path
from tests.support.newsletter import SECRET, make_issue, write_csv

ROWS = ["ann@example.com,Ann", "oops,Bad", "ANN@example.com,Dup", "cy@example.org,"]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)


def _run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_send_json_is_one_object_on_stdout(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    csv = write_csv(tmp_path / "r.csv", ROWS)
    result = _run("send", str(issue), "--recipients", str(csv), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert result.stdout.strip().count("\n") == 0
    assert (data["sent"], data["skipped"], data["failed"], data["unknown"]) == (2, 2, 0, 0)
    assert data["skipped_by_reason"] == {"duplicate": 1, "invalid": 1}
    assert {(p["line"], p["kind"]) for p in data["problems"]} == {(3, "invalid"), (4, "duplicate")}
    assert "journal" in result.stderr  # the human summary went to stderr
    assert len(list((issue / "outbox").glob("*.eml"))) == 2


def test_send_text_summary_and_skipped_rows(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    result = _run("send", str(issue), "--recipients", str(write_csv(tmp_path / "r.csv", ROWS)))
    assert result.exit_code == 0
    assert "sent 2" in result.stdout and "skipped 2 (duplicate 1, invalid 1)" in result.stdout
    assert "skipped invalid: line 3: 'oops'" in result.stderr
    assert "skipped duplicate: line 4" in result.stderr


def test_dry_run_lists_batches_and_sends_nothing(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    result = _run("send", str(issue), "--recipients", str(write_csv(tmp_path / "r.csv", ROWS)), "--dry-run")
    assert result.exit_code == 0
    assert "batch 1: 2 recipient(s) (ann@example.com ... cy@example.org)" in result.stderr
    assert "2 recipient(s) would be sent in 1 batch(es)" in result.stdout
    assert not (issue / "outbox").exists() and not journal_path(issue).exists()


def test_test_copy(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    result = _run("send", str(issue), "--test", "me@example.net", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["test"] == "me@example.net" and data["sent"] == 0  # outside the journal
    assert len(list((issue / "outbox" / "test").glob("*.eml"))) == 1
    bad = _run("send", str(issue), "--test", "not-an-address")
    assert bad.exit_code == 2 and "not a valid address" in bad.stderr


def test_unknown_recipients_exit_1_until_resent(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    csv = str(write_csv(tmp_path / "r.csv", ROWS))
    assert _run("send", str(issue), "--recipients", str(write_csv(tmp_path / "a.csv", ROWS[:1]))).exit_code == 0
    with Journal(journal_path(issue), "issue-7") as j:  # a send killed with cy's batch in flight
        j.begin_batch(j.next_batch_number(), ["cy@example.org"])
    result = _run("send", str(issue), "--recipients", csv, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["unknown"] == 1
    assert "--resend-unknown" in result.stderr
    result = _run("send", str(issue), "--recipients", csv, "--resend-unknown", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["unknown"] == 0


@pytest.mark.parametrize("args,code,needle", [
    ([], 2, "--recipients CSV is required"),
    (["--recipients", "{tmp}/missing.csv"], 1, "recipients file not found"),
    (["--recipients", "{tmp}/noemail.csv"], 1, "no `email` column"),
    (["--recipients", "{tmp}/r.csv", "--sandbox"], 2, "need --backend sendgrid"),
    (["--recipients", "{tmp}/r.csv", "--backend", "nope"], 2, "Invalid value for '--backend'"),
])
def test_bad_input_is_one_clear_line(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    issue = make_issue(tmp_path)
    write_csv(tmp_path / "r.csv", ROWS)
    (tmp_path / "noemail.csv").write_text("name,mail_address\nAnn,ann@example.com\n")
    result = _run("send", str(issue), *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == code
    assert needle in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_refusal_exit_1_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issue = make_issue(tmp_path)
    monkeypatch.delenv("DIGEST_UNSUBSCRIBE_SECRET")
    result = _run("send", str(issue), "--recipients", str(write_csv(tmp_path / "r.csv", ROWS)))
    assert result.exit_code == 1
    assert "digest: error: DIGEST_UNSUBSCRIBE_SECRET is not set" in result.stderr
    assert not (issue / "outbox").exists()


def test_suppressions_add_list_and_send_skips(tmp_path: Path) -> None:
    issue = make_issue(tmp_path)
    news = issue.parent
    extra = tmp_path / "bounces.csv"
    extra.write_text("Email,reason\ncy@example.org,bounce\nbroken@,x\n")
    result = _run("suppressions", "add", "Ann@Example.com", str(extra), "--dir", str(news))
    assert result.exit_code == 1  # one row of the CSV was not an address: said, the rest added
    assert "line 3" in result.stderr and "added 2" in result.stdout
    listed = _run("suppressions", "list", "--dir", str(news), "--json")
    assert [json.loads(line)["email"] for line in listed.stdout.splitlines()] == ["Ann@example.com",
                                                                                   "cy@example.org"]
    assert _run("suppressions", "path", "--dir", str(news)).stdout.strip() == str(news / "suppressions.csv")
    again = _run("suppressions", "add", "ann@example.com", "--dir", str(news))
    assert "added 0, already listed 1" in again.stdout
    result = _run("send", str(issue), "--recipients", str(write_csv(tmp_path / "r.csv", ROWS)), "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["sent"] == 0 and data["skipped_by_reason"]["suppressed"] == 2


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_a_damaged_or_lost_journal_refuses_the_send_until_new_journal(tmp_path: Path, damage: str) -> None:
    issue = make_issue(tmp_path)
    csv = str(write_csv(tmp_path / "r.csv", ROWS))
    assert _run("send", str(issue), "--recipients", csv).exit_code == 0
    outbox = {p: p.stat().st_mtime_ns for p in (issue / "outbox").glob("*.eml")}
    assert len(outbox) == 2
    path = journal_path(issue)
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    if damage == "truncate":
        path.write_bytes(b"")
    else:
        path.unlink()
    for args in ([], ["--dry-run"]):
        result = _run("send", str(issue), "--recipients", csv, *args)
        assert result.exit_code == 1, result.stdout
        assert "--new-journal" in result.stderr and "Traceback" not in result.stderr
        assert {p: p.stat().st_mtime_ns for p in (issue / "outbox").glob("*.eml")} == outbox  # nobody mailed again
    result = _run("send", str(issue), "--recipients", csv, "--new-journal")
    assert result.exit_code == 0, result.stderr
    assert "sent 2" in result.stdout
    if damage == "truncate":
        assert "set the old send journal aside" in result.stderr
        assert list(issue.glob("send-journal.sqlite.set-aside-*"))
