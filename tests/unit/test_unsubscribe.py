"""Unsubscribe tokens, links from settings, and the WSGI app (called directly and over real HTTP)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from digest.config import DEFAULTS, Settings, _merge
from digest.deliver import suppressions
from digest.deliver.unsubscribe import Links, Signer, UnsubscribeApp, links_from_settings, make_token, verify_token
from digest.errors import SendRefused
from tests.support.newsletter import SECRET

KEY = SECRET.encode()


def test_token_round_trip_and_tamper() -> None:
    token = make_token("Zoë@example.com", KEY)
    assert verify_token(token, KEY) == "Zoë@example.com"
    assert verify_token(token, b"another-secret-0123456789") is None
    left, right = token.split(".")
    other = make_token("mallory@example.com", KEY).split(".")[0]
    assert verify_token(f"{other}.{right}", KEY) is None  # someone else's address with this signature
    for i in range(len(token)):  # every one-character change is refused
        flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        assert verify_token(flipped, KEY) is None, i
    for junk in ["", ".", "abc", "a.b.c", "%%%.%%%", token + "=", token[:-1]]:
        assert verify_token(junk, KEY) is None


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_token_is_the_documented_keyed_blake2b_and_version_1_tokens_still_verify() -> None:
    import hashlib
    import hmac

    address = "Ann+news@Example.org"
    key = hmac.digest(KEY, b"digest-unsubscribe-v2 key", "sha256")
    tag = hashlib.blake2b(address.encode(), digest_size=24, key=key, person=b"digest-unsub-v2").digest()
    assert make_token(address, KEY) == f"{_b64(address.encode())}.{_b64(tag)}"
    assert len(make_token(address, KEY).split(".")[1]) == 32
    # A link in an email sent by an earlier version (HMAC-SHA256 tag) still unsubscribes; altered, it does not.
    v1 = hmac.digest(KEY, b"digest-unsubscribe-v1\x00" + address.encode(), "sha256")
    old = f"{_b64(address.encode())}.{_b64(v1)}"
    assert verify_token(old, KEY) == address
    assert verify_token(old, b"another-secret-0123456789") is None
    assert verify_token(f"{_b64(address.encode())}.{_b64(v1[:24])}", KEY) is None  # cut to the new length
    assert verify_token(f"{_b64(address.encode())}.{_b64(tag[:16])}", KEY) is None  # a short tag
    assert verify_token(f"{_b64(b'eve@example.org')}.{_b64(v1)}", KEY) is None


def test_signer_makes_the_same_tokens_as_make_token() -> None:
    import random

    rng = random.Random(5)
    addresses = ["a@b.co", "Zoë@example.com", "用户@例え.jp", "x" * 300 + "@example.com", "O'Neil+tag@Example.COM"]
    addresses += ["".join(rng.choice("abcXYZ09.+_-é") for _ in range(rng.randint(1, 80))) + "@example.org"
                  for _ in range(300)]
    for secret in (KEY, b"k" * 16, b"k" * 64, b"k" * 65, b"long-" * 50, "sécret-ü-0123456789".encode()):
        sign = Signer(secret)
        for address in addresses:
            token = sign(address)
            assert token == make_token(address, secret), (secret, address)
            assert verify_token(token, secret) == address


def test_links_with_a_token_template_sign_each_address() -> None:
    for template in ("https://x.example/u?t={token}", "https://x.example/u/{token}/confirm",
                     "https://x.example/u?t={token}&e={email}", "https://x.example/u?a={token}&b={token}"):
        url, _ = Links(template, "", KEY).for_recipient("ann+1@example.com")
        want = template.replace("{token}", make_token("ann+1@example.com", KEY))
        want = want.replace("{email}", "ann%2B1%40example.com")
        assert url == want, template


def _settings(**unsub: str) -> Settings:
    return Settings(_merge(DEFAULTS, {"unsubscribe": unsub}))


def test_links_from_settings() -> None:
    links = links_from_settings(_settings(url="https://x.example/u?t={token}&e={email}", mailto="u@x.example"),
                                {"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    url, mailto = links.for_recipient("a+b@example.com")
    assert url is not None and url.endswith("&e=a%2Bb%40example.com") and mailto == "u@x.example"
    token = url.split("t=")[1].split("&")[0]
    assert verify_token(token, KEY) == "a+b@example.com"
    with pytest.raises(SendRefused, match="DIGEST_UNSUBSCRIBE_SECRET is not set"):
        links_from_settings(_settings(url="https://x.example/u/{token}"), {})
    with pytest.raises(SendRefused, match="too short"):
        links_from_settings(_settings(url="https://x.example/u/{token}"), {"DIGEST_UNSUBSCRIBE_SECRET": "short"})
    with pytest.raises(SendRefused, match="https"):
        links_from_settings(_settings(url="ftp://x.example/{token}"), {"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    assert links_from_settings(_settings(mailto="u@x.example"), {}).for_recipient("a@b.co") == (None, "u@x.example")
    http = links_from_settings(_settings(url="http://x.example/u/{token}"), {"DIGEST_UNSUBSCRIBE_SECRET": SECRET})
    assert "one-click" in http.warnings[0]


def _call(app: UnsubscribeApp, method: str, path: str, query: str = "", body: bytes = b"") -> tuple[str, str]:
    seen: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status
        seen["headers"] = dict(headers)

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/x-www-form-urlencoded",
               "wsgi.input": io.BytesIO(body)}
    out = b"".join(app(environ, start)).decode()
    return seen["status"], out


def test_app_get_confirms_post_suppresses(tmp_path: Path) -> None:
    supp = tmp_path / "suppressions.csv"
    app = UnsubscribeApp(supp, KEY, "Harbour Notes")
    token = make_token("ann@example.com", KEY)
    status, page = _call(app, "GET", "/unsub", f"t={token}")
    assert status.startswith("200") and 'method="post"' in page and "ann@example.com" in page
    assert not supp.exists()  # a GET (link scanners) changes nothing
    status, _ = _call(app, "POST", "/unsub", f"t={token}", b"List-Unsubscribe=One-Click")
    assert status.startswith("200")
    assert suppressions.load(supp) == {"ann@example.com"}
    _call(app, "POST", "/unsub", f"t={token}", b"List-Unsubscribe=One-Click")  # twice: listed once
    assert [e.email for e in suppressions.entries(supp)] == ["ann@example.com"]
    assert suppressions.entries(supp)[0].reason == "unsubscribe"
    # The token as the last path segment works too (templates like https://x/u/{token}).
    status, _ = _call(app, "POST", f"/u/{make_token('bo@example.com', KEY)}", "", b"List-Unsubscribe=One-Click")
    assert status.startswith("200") and "bo@example.com" in suppressions.load(supp)


def test_app_refuses_bad_tokens(tmp_path: Path) -> None:
    supp = tmp_path / "suppressions.csv"
    app = UnsubscribeApp(supp, KEY)
    good = make_token("ann@example.com", KEY)
    forged = make_token("ann@example.com", b"not-the-secret-at-all-123")
    altered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    for token in [forged, altered, "", "garbage", good.split(".")[0]]:
        for method in ("GET", "POST"):
            status, page = _call(app, method, "/unsub", f"t={token}", b"List-Unsubscribe=One-Click")
            assert status.startswith("403"), (token, method)
            assert "ann@example.com" not in page
    assert not supp.exists()
    status, _ = _call(app, "POST", "/unsub", f"t={good}", b"something=else")
    assert status.startswith("400") and not supp.exists()
    assert _call(app, "PUT", "/unsub", f"t={good}")[0].startswith("405")
