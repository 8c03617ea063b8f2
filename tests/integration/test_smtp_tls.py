"""The SMTP backend over TLS against a real aiosmtpd server: STARTTLS with a login, implicit TLS (port 465
style), and a certificate the machine does not trust (a clear error, nothing sent).

The certificate is made for the test by ``openssl`` (a throwaway self-signed one for 127.0.0.1); digest
verifies servers with the system's trust store, which ``SSL_CERT_FILE`` points at the test's certificate.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from digest.deliver.send import send_issue
from digest.errors import DigestError
from tests.conftest import need_tool
from tests.support.newsletter import SECRET, make_issue, write_csv
from tests.support.smtpserver import Recorder, SmtpServer

pytestmark = pytest.mark.integration
PEOPLE = [f"t{i}@example.com" for i in range(4)]


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    openssl = need_tool("openssl")
    key, crt = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(crt), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return crt, key


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.delenv("DIGEST_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("DIGEST_SUPPRESSIONS", raising=False)


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


def _send(tmp_path: Path, port: int, **smtp: object) -> object:
    issue = make_issue(tmp_path, smtp={"host": "127.0.0.1", "port": port, "timeout": 5, "batch_size": 2, **smtp})
    csv_path = write_csv(tmp_path / "r.csv", [f"{p},Name{i}" for i, p in enumerate(PEOPLE)])
    return send_issue(issue, csv_path, "smtp")


def test_starttls_with_login_sends_every_message_encrypted(tmp_path: Path, cert: tuple[Path, Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.smtp import AuthResult

    def auth(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        ok = getattr(data, "login", b"") == b"editor" and getattr(data, "password", b"") == b"tls-pass"
        return AuthResult(success=ok, handled=False)

    rec = Recorder()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "tls-pass")
    # The server offers AUTH only after STARTTLS and refuses mail before it.
    with SmtpServer(rec, tls_context=_server_context(cert), require_starttls=True, authenticator=auth,
                    auth_require_tls=True) as srv:
        report = _send(tmp_path, srv.port, security="starttls", user="editor")
    assert report.ok, report.error  # type: ignore[attr-defined]
    assert sorted(rec.received()) == sorted(PEOPLE)
    assert rec.tls == [True] * len(PEOPLE)
    assert rec.ehlos == 2  # one connection: EHLO before and after STARTTLS


def test_implicit_tls_port(tmp_path: Path, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    with SmtpServer(rec, ssl_context=_server_context(cert)) as srv:
        report = _send(tmp_path, srv.port, security="ssl")
    assert report.ok, report.error  # type: ignore[attr-defined]
    assert sorted(rec.received()) == sorted(PEOPLE)
    assert rec.tls == [True] * len(PEOPLE)


def test_an_untrusted_certificate_is_a_clear_error_and_nothing_leaves(tmp_path: Path, cert: tuple[Path, Path],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))  # the test's cert is not trusted
    with (SmtpServer(rec, tls_context=_server_context(cert), require_starttls=True) as srv,
          pytest.raises(DigestError, match="TLS failed: CERTIFICATE_VERIFY_FAILED")):
        _send(tmp_path, srv.port, security="starttls")
    assert rec.received() == []


def test_starttls_asked_of_a_server_without_it(tmp_path: Path) -> None:
    rec = Recorder()
    with SmtpServer(rec) as srv, pytest.raises(DigestError, match="does not offer STARTTLS"):
        _send(tmp_path, srv.port, security="starttls")
    assert rec.received() == []
