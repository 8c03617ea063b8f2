"""digest check: the in-process checks (no external tools): size, images, links, unsubscribe, sender."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.compose import check, node_tools
from digest.compose.check import CheckReport, check_html, check_issue, check_settings, classify_caniemail
from digest.compose.issue_file import add_sources, new_issue
from digest.config import Settings
from tests.conftest import REPO

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "compose"
PAGE = ('<!DOCTYPE html><html lang="en"><head><title>t</title></head><body>{body}'
        '<a href="__DG_UNSUBSCRIBE_URL_HTML__">Unsubscribe</a></body></html>')


def levels(report: CheckReport, name: str) -> list[str]:
    return [f.level for f in report.findings if f.check == name]


def test_size_limits() -> None:
    r = CheckReport(Path("."))
    check_html(PAGE.format(body="<p>" + "x" * 103_000 + "</p>"), r)
    assert "error" in levels(r, "size") and r.figures["email_html_bytes"] > 102_000
    r = CheckReport(Path("."))
    check_html(PAGE.format(body="<p>short</p>"), r)
    assert levels(r, "size") == ["info"] and not r.blocked


def test_images_without_alt_or_https_are_errors() -> None:
    r = CheckReport(Path("."))
    check_html(PAGE.format(body='<img src="https://e.org/a.png"><img src="http://e.org/b.png" alt="b">'
                                '<img src="a/local.png" alt="c">'), r)
    msgs = [f.message for f in r.findings if f.check == "images"]
    assert any("without alt" in m and "a.png" in m for m in msgs)
    assert any("https" in m and "b.png" in m for m in msgs)
    assert any("https" in m and "local.png" in m for m in msgs)
    assert r.blocked


def test_heavy_local_image_is_flagged(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "big.jpg").write_bytes(b"\0" * 1_100_000)
    r = CheckReport(tmp_path)
    check_html(PAGE.format(body='<img src="https://cdn.e.org/images/big.jpg" alt="x">'), r, tmp_path)
    assert any("over 1 MB" in f.message for f in r.findings)


def test_links_must_be_http_or_mailto_and_unsubscribe_present() -> None:
    r = CheckReport(Path("."))
    check_html('<html><body><a href="javascript:x()">x</a><a href="ftp://e.org/f">f</a>'
               '<a href="mailto:a@e.org">m</a><a href="https://e.org">ok</a></body></html>', r)
    msgs = [f.message for f in r.findings if f.check == "links"]
    assert len(msgs) == 2 and any("javascript" in m for m in msgs) and any("ftp" in m for m in msgs)
    assert levels(r, "unsubscribe") == ["error"]


@pytest.mark.parametrize("sender", ["news@gmail.com", "x@Yahoo.com", "me@outlook.com", "a@hotmail.com",
                                    "b@aol.com", "c@icloud.com"])
def test_free_mail_sender_is_an_error(sender: str) -> None:
    s = Settings()
    s.data["newsletter"].update({"from_email": sender, "postal_address": "1 Main St"})
    s.data["unsubscribe"]["url"] = "https://e.org/u?t={token}"
    r = CheckReport(Path("."))
    check_settings(s, r)
    assert levels(r, "sender") == ["error"]
    assert "free-mail" in r.findings[0].message


def test_settings_missing_postal_address_and_unsubscribe() -> None:
    s = Settings()
    s.data["newsletter"]["from_email"] = "news@valley.example.org"
    r = CheckReport(Path("."))
    check_settings(s, r)
    assert "error" in levels(r, "postal address") and "error" in levels(r, "unsubscribe")
    s.data["newsletter"]["postal_address"] = "1 Main St"
    s.data["unsubscribe"]["url"] = "http://insecure.example.org/u"
    r = CheckReport(Path("."))
    check_settings(s, r)
    assert levels(r, "unsubscribe")[0] == "error"  # not https


def test_caniemail_classification() -> None:
    r = CheckReport(Path("."))
    classify_caniemail([
        "`display:flex` is not supported by `outlook.windows`",
        "`border-radius` is not supported by `outlook.windows`",
        "`word-break` is not supported by `gmail.ios`",
        "`display:flex` is not supported by `gmail.mobile-webmail`",
    ], r)
    by = {f.message.split(" ")[0] if f.level == "error" else f.message: f.level for f in r.findings}
    assert by["display:flex"] == "error"
    assert any(lvl == "info" and "border-radius" in m for m, lvl in by.items())
    assert any(lvl == "warning" and "word-break" in m for m, lvl in by.items())
    err = next(f for f in r.findings if f.level == "error")
    assert "gmail.mobile-webmail, outlook.windows" in err.message


def test_missing_tool_is_skipped_or_fails_under_ci(monkeypatch) -> None:
    monkeypatch.setattr(check.shutil, "which", lambda name: None)
    for ci, expected in (("", "skipped"), ("true", "error")):
        monkeypatch.setenv("CI", ci)
        r = CheckReport(Path("."))
        check.check_spam(Path("/nonexistent.eml"), r)
        check.check_caniemail(Path("/nonexistent.html"), r)
        check.check_html_validate(Path("/nonexistent.html"), r)
        assert [f.level for f in r.findings] == [expected] * 3
        assert all("this check did not run" in f.message for f in r.findings)
        assert r.not_run == {"spam": "no SpamAssassin", "caniemail": "no Node", "html-validate": "no Node"}
        if not ci:
            assert r.verdict == "ready to send, 3 checks not run (no SpamAssassin; no Node)"
            assert any("Node 18" in h and "--install-tools" in h for h in r.hints)


def test_without_node_the_verdict_names_the_two_checks_not_run(tmp_path: Path, monkeypatch) -> None:
    for name in ("digest.toml", "library.md"):
        shutil.copy(FIX / name, tmp_path / name)
    folder = tmp_path / "issue"
    new_issue(folder, "Valley news", "Rivers and tools")
    add_sources(folder, [str(tmp_path / "library.md")], None)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no node, no npm
    monkeypatch.setattr(check, "check_spam", lambda eml, report: report.add("spam", "info", "stand-in score"))
    result = CliRunner().invoke(cli, ["check", str(folder)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    verdict = next(i for i, line in enumerate(lines) if line.startswith("ready to send"))
    assert lines[verdict] == "ready to send, 2 checks not run (no Node)"
    assert "digest check --install-tools" in lines[verdict + 1]
    assert "ready to send" not in "\n".join(lines[:verdict])


def test_a_node_older_than_18_is_reported_as_such(tmp_path: Path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "node"
    fake.write_text("#!/bin/sh\necho v16.20.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("CI", raising=False)
    node_tools._node_version.cache_clear()
    r = CheckReport(Path("."))
    check.check_caniemail(Path("/nonexistent.html"), r)
    assert r.not_run == {"caniemail": "Node older than 18"}
    assert "Node 16" in r.findings[0].message


def test_pinned_tool_versions_match_package_json() -> None:
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]
    assert {name: pinned[name] for name in node_tools.PINNED} == node_tools.PINNED


def test_check_issue_builds_and_cli_exit_codes(tmp_path: Path) -> None:
    for name in ("digest.toml", "river.txt", "library.md"):
        shutil.copy(FIX / name, tmp_path / name)
    folder = tmp_path / "issue"
    new_issue(folder, "Valley news", "Rivers and tools")
    add_sources(folder, [str(tmp_path / "library.md")], None)
    report = check_issue(folder, tools=False)
    assert (folder / "build" / "email.html").is_file()
    assert not report.blocked, [f for f in report.findings if f.level == "error"]
    toml = tmp_path / "digest.toml"
    toml.write_text(toml.read_text().replace("news@valley.example.org", "valley.weekly@gmail.com"))
    runner = CliRunner()
    result = runner.invoke(cli, ["check", str(folder)])
    assert result.exit_code == 1
    assert "free-mail" in result.output and "blocked" in result.output


def _https_settings() -> Settings:
    s = Settings()
    s.data["unsubscribe"].update({"url": "https://news.example.org/u?t={token}", "mailto": "u@example.org"})
    return s


def test_message_header_check_reads_the_raw_list_unsubscribe() -> None:
    token = "cmVhZGVyQGV4YW1wbGUuY29t." + "A" * 32
    good = (b"From: n@example.org\r\nList-Unsubscribe: <https://news.example.org/u?t=" + token.encode()
            + b">,\r\n <mailto:u@example.org?subject=unsubscribe>\r\nSubject: s\r\n\r\nbody\r\n")
    r = CheckReport(Path("."))
    check.check_message_headers(good, _https_settings(), r)
    assert levels(r, "headers") == ["info"]
    # What Python's email package used to write for a long header: an encoded-word, no <https://...>.
    encoded = (b"List-Unsubscribe: =?utf-8?q?=3Chttps=3A//news=2Eexample=2Eorg/u=3Ft=3D" + b"A" * 40
               + b"?=\r\n <mailto:u@example.org>\r\n\r\nbody\r\n")
    r = CheckReport(Path("."))
    check.check_message_headers(encoded, _https_settings(), r)
    assert levels(r, "headers") == ["error"] and "encoded" in r.findings[0].message
    r = CheckReport(Path("."))
    check.check_message_headers(b"Subject: s\r\n\r\nbody\r\n", _https_settings(), r)
    assert levels(r, "headers") == ["error"]


def test_built_sample_message_has_a_real_length_token_and_passes(tmp_path: Path) -> None:
    from digest.compose.build import build_issue

    (tmp_path / "digest.toml").write_text(
        '[newsletter]\nname = "N"\nfrom_email = "news@news.example.org"\npostal_address = "1 Road"\n'
        '[unsubscribe]\nurl = "https://news.example.org/unsubscribe?t={token}"\nmailto = "u@news.example.org"\n',
        encoding="utf-8")
    issue = tmp_path / "i"
    new_issue(issue, "Subject", "Pre")
    add_sources(issue, [str(FIX / "river.txt")], None)
    build_issue(issue)
    eml = (issue / "build" / "message.eml").read_bytes()
    [first, second] = check.raw_header(eml, "List-Unsubscribe")
    assert first.startswith(b"List-Unsubscribe: <https://news.example.org/unsubscribe?t=") and first.endswith(b">,")
    token = first.split(b"t=", 1)[1][:-2]
    assert len(token) >= 50 and b"." in token  # base64url(address) "." base64url(24-byte tag)
    assert second == b" <mailto:u@news.example.org?subject=unsubscribe>"
    report = check_issue(issue, tools=False)
    assert [f.level for f in report.findings if f.check == "headers"] == ["info"]
