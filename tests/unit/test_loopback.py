"""Which hosts count as this machine (a plain-http SendGrid host, an SMTP login over security = "none")."""

from __future__ import annotations

import pytest

from digest.deliver.backends.sendgrid.client import host_warning
from digest.deliver.backends.smtp import plain_login_refusal
from digest.deliver.transport import is_loopback


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "127.0.0.1", "127.8.9.10", "::1", "[::1]",
                                  "stand-in.localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.5", "192.168.1.2", "::ffff:8.8.8.8", "mail.example.org", "",
                                  "127.attacker.example", "localhost.example.org", "0.0.0.0"])
def test_other_hosts(host: str) -> None:
    assert not is_loopback(host)


def test_plain_http_sendgrid_host_is_warned_unless_loopback() -> None:
    assert host_warning("https://api.sendgrid.com") is None
    assert host_warning("http://127.0.0.1:8080") is None and host_warning("http://[::1]:80") is None
    warning = host_warning("http://sendgrid-proxy.internal.example")
    assert warning and "plain http" in warning and "sendgrid-proxy.internal.example" in warning


def test_smtp_login_in_clear_only_to_this_machine() -> None:
    assert plain_login_refusal("127.0.0.1", "editor", "none") is None
    assert plain_login_refusal("mail.example.org", "", "none") is None  # no login: no password to leak
    assert plain_login_refusal("mail.example.org", "editor", "starttls") is None
    refusal = plain_login_refusal("mail.example.org", "editor", "none")
    assert refusal is not None and 'security = "none"' in refusal.message and "starttls" in (refusal.hint or "")
