"""The foundation, end to end through the CLI: new → add (seed, real pages, Markdown) → build → send (outbox)."""

from __future__ import annotations

import csv
import email
import email.policy
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from digest.cli import cli
from tests.conftest import REPO, shared_path

PAGES = ("bbc-1", "guardian-1", "nytimes-1")


def test_new_add_build_send_outbox(tmp_path: Path) -> None:
    seed = shared_path("seeds", "000_d8922b5850a6cfb1.txt")
    pages = [shared_path("corpus", "html-dev", f"{name}.html") for name in PAGES]
    shutil.copy(REPO / "examples" / "digest.toml", tmp_path / "digest.toml")
    md = tmp_path / "note.md"
    md.write_text("---\ntitle: A note from the editor\nurl: https://news.example.com/note\n---\n\n"
                  "We are moving the newsletter to Fridays from next month. Nothing else changes.\n",
                  encoding="utf-8")
    recipients = tmp_path / "subscribers.csv"
    shutil.copy(REPO / "recipients.example.csv", recipients)
    with recipients.open("a", encoding="utf-8") as fh:
        fh.write("ADA@example.com,Ada,Again\n")  # a case-insensitive duplicate
        fh.write("not-an-address,Nobody,\n")  # a bad row, reported with its line number
    issue = tmp_path / "2026-48"
    runner = CliRunner()

    r = runner.invoke(cli, ["new", str(issue), "--subject", "This week", "--preheader", "Five stories"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["add", str(issue), str(seed), *map(str, pages), str(md)])
    assert r.exit_code == 0, r.output
    assert r.output.count("added:") == 5
    assert "BREAKING: Lavrov meets Tillerson, meeting Trump" in r.output

    r = runner.invoke(cli, ["build", str(issue)])
    assert r.exit_code == 0, r.output
    for name in ("email.html", "email.txt", "web.html", "message.eml"):
        assert (issue / "build" / name).is_file()
    html = (issue / "build" / "email.html").read_text(encoding="utf-8")
    assert "<style" in html and 'style="' in html  # premailer inlined the theme's CSS
    assert "Patreon" not in html  # the seed's boilerplate never reaches the email

    r = runner.invoke(cli, ["send", str(issue), "--recipients", str(recipients), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    with (REPO / "recipients.example.csv").open(encoding="utf-8") as fh:
        expected = {row["email"].lower() for row in csv.DictReader(fh)}
    assert summary["sent"] == len(expected)
    assert summary["skipped"] == 2  # the duplicate and the invalid row
    assert "line 8" in r.output  # the bad row, by its line number (on stderr)

    emls = sorted((issue / "outbox").glob("*.eml"))
    assert len(emls) == len(expected)
    seen = set()
    for path in emls:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
            assert msg[header], f"{path.name}: no {header}"
        assert msg.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in msg.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        seen.add(str(msg["To"]).lower())
        text = msg.get_body(("plain",)).get_content()
        assert "__DG_" not in text and "__DG_" not in msg.get_body(("html",)).get_content()
    assert seen == expected
