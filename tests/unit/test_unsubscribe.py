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


def _call(app: UnsubscribeApp, method: str, path: str, query: str = "", body: bytes = b"",
          extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> tuple[str, str]:
    """Call the WSGI app; ``extra`` overrides environ keys, ``headers`` receives the response headers."""
    seen: dict[str, Any] = {}

    def start(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"] = status
        if headers is not None:
            headers.update(response_headers)

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/x-www-form-urlencoded",
               "wsgi.input": io.BytesIO(body), **(extra or {})}
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
    assert suppressions.entries(supp)[0].source == "one-click"  # how they left: the editor can tell from a bounce
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


# --- what a subscriber's browser, a mail provider and the editor see ----------------------------------------


def test_every_page_is_private_and_inert(tmp_path: Path) -> None:
    """The URL is a bearer token: no page may be cached, leak it as a Referer, be sniffed or run scripts."""
    app = UnsubscribeApp(tmp_path / "s.csv", KEY, "Harbour Notes")
    token = make_token("ann@example.com", KEY)
    for method, query, body, want in [("GET", f"t={token}", b"", "200"), ("HEAD", f"t={token}", b"", "200"),
                                      ("POST", f"t={token}", b"List-Unsubscribe=One-Click", "200"),
                                      ("GET", "t=forged", b"", "403"),
                                      ("POST", f"t={token}", b"x" * (17 * 1024), "413"),
                                      ("POST", f"t={token}", b"nothing=here", "400")]:
        headers: dict[str, str] = {}
        status, _ = _call(app, method, "/unsub", query, body, headers=headers)
        assert status.startswith(want), (method, query, status)
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"] == ("default-src 'none'; style-src 'unsafe-inline'; "
                                                      "form-action 'self'")
        assert headers["Content-Type"] == "text/html; charset=utf-8"


def test_head_answers_like_get_without_a_body(tmp_path: Path) -> None:
    app = UnsubscribeApp(tmp_path / "s.csv", KEY)
    token = make_token("ann@example.com", KEY)
    get_headers: dict[str, str] = {}
    head_headers: dict[str, str] = {}
    status, page = _call(app, "GET", "/unsub", f"t={token}", headers=get_headers)
    assert status.startswith("200") and "ann@example.com" in page
    status, page = _call(app, "HEAD", "/unsub", f"t={token}", headers=head_headers)
    assert status.startswith("200") and page == ""
    assert head_headers == get_headers  # the same Content-Length: the size of the page a GET returns
    assert not (tmp_path / "s.csv").exists()
    status, page = _call(app, "HEAD", "/unsub", "t=forged")
    assert status.startswith("403") and page == ""


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_refused_and_change_nothing(tmp_path: Path, method: str) -> None:
    app = UnsubscribeApp(tmp_path / "s.csv", KEY)
    token = make_token("ann@example.com", KEY)
    headers: dict[str, str] = {}
    status, _ = _call(app, method, "/unsub", f"t={token}", b"List-Unsubscribe=One-Click", headers=headers)
    assert status.startswith("405") and "GET" in headers["Allow"] and "POST" in headers["Allow"]
    assert not (tmp_path / "s.csv").exists()


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_a_malformed_token_is_403_never_a_server_error(tmp_path: Path) -> None:
    import hashlib
    import hmac

    app = UnsubscribeApp(tmp_path / "s.csv", KEY)
    good = make_token("ann@example.com", KEY)
    left, right = good.split(".")
    key = hmac.digest(KEY, b"digest-unsubscribe-v2 key", "sha256")
    not_utf8 = b"\xff\xfeann@example.com"
    tag = hashlib.blake2b(not_utf8, digest_size=24, key=key, person=b"digest-unsub-v2").digest()
    malformed = [
        "a.b", "ab.c", "a", ".", "..", f"{left}.", f".{right}", f"{left}.{right}.{right}", f"{left}..{right}",
        f"{left}={right}", "é.ü", f"{left}.{right}é", "%%.%%", f"{left}=.{right}", f"{left}.{right}==",
        f"{_b64url(not_utf8)}.{_b64url(tag)}",  # a correctly signed address that is not UTF-8
        f"{left}.{_b64url(b'x' * 31)}", f"{left}.{_b64url(b'x' * 33)}", f"{left}.{_b64url(b'x' * 24)}",
        "x" * 3000 + "." + right, left * 40 + "." + right,
    ]
    for token in malformed:
        assert verify_token(token, KEY) is None, token
        for method in ("GET", "POST"):
            status, _ = _call(app, method, "/unsub", "", b"List-Unsubscribe=One-Click",
                              extra={"QUERY_STRING": "t=" + token.replace("%", "%25")})
            assert status.startswith("403"), (token, method, status)
            status, _ = _call(app, method, "/u/" + token, "", b"List-Unsubscribe=One-Click")
            assert status.startswith("403"), (token, method, status)
    assert not (tmp_path / "s.csv").exists()


def test_a_long_address_signs_and_verifies(tmp_path: Path) -> None:
    address = "a" * 64 + "@" + "b" * 180 + ".example"  # 254 characters: the longest valid address
    token = make_token(address, KEY)
    assert verify_token(token, KEY) == address
    status, _ = _call(UnsubscribeApp(tmp_path / "s.csv", KEY), "POST", "/u/" + token, "",
                      b"List-Unsubscribe=One-Click")
    assert status.startswith("200") and suppressions.load(tmp_path / "s.csv") == {address}


@pytest.mark.parametrize("field", ["t", "token"])
def test_the_token_in_the_post_body(tmp_path: Path, field: str) -> None:
    """A form posting the token as a field (a template with no token in the URL's path or query)."""
    app = UnsubscribeApp(tmp_path / "s.csv", KEY)
    token = make_token("ann@example.com", KEY)
    status, page = _call(app, "POST", "/unsub", "", f"List-Unsubscribe=One-Click&{field}={token}".encode())
    assert status.startswith("200") and "ann@example.com" in page
    assert suppressions.load(tmp_path / "s.csv") == {"ann@example.com"}
    # Another field's value is not taken for the token, nor a GET's (a GET never unsubscribes anyway).
    status, _ = _call(app, "POST", "/unsub", "", f"List-Unsubscribe=One-Click&other={token}".encode())
    assert status.startswith("403")


def test_the_token_is_found_wherever_the_template_put_it(tmp_path: Path) -> None:
    app = UnsubscribeApp(tmp_path / "s.csv", KEY)
    token = make_token("ann@example.com", KEY)
    for path, query in [("/unsub", f"t={token}"), ("/unsub", f"utm_source=mail&id={token}&x=1"),
                        (f"/u/{token}", ""), (f"/u/{token}/", ""), (f"/u/{token}", "utm_source=mail")]:
        status, page = _call(app, "GET", path, query)
        assert status.startswith("200") and "ann@example.com" in page, (path, query)


def test_the_body_limit_is_16_kib(tmp_path: Path) -> None:
    app = UnsubscribeApp(tmp_path / "s.csv", KEY)
    token = make_token("ann@example.com", KEY)
    form = b"List-Unsubscribe=One-Click&pad="
    at_limit = form + b"x" * (16 * 1024 - len(form))
    status, _ = _call(app, "POST", "/unsub", f"t={token}", at_limit)
    assert status.startswith("200"), status
    over = at_limit + b"x"
    assert _call(app, "POST", "/unsub", f"t={token}", over)[0].startswith("413")
    # Without a Content-Length, from a server that ends the input itself (wsgi.input_terminated).
    for body, want in ((at_limit, "200"), (over, "413")):
        status, _ = _call(app, "POST", "/unsub", f"t={token}", body,
                          extra={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})
        assert status.startswith(want), (len(body), status)
    assert _call(app, "POST", "/unsub", f"t={token}", b"List-Unsubscribe=One-Click",
                 extra={"CONTENT_LENGTH": "ten"})[0].startswith("400")
    assert [e.email for e in suppressions.entries(tmp_path / "s.csv")] == ["ann@example.com"]


def test_editor_warnings_for_links_that_anyone_could_use(tmp_path: Path) -> None:
    env = {"DIGEST_UNSUBSCRIBE_SECRET": SECRET}
    by_email = links_from_settings(_settings(url="https://x.example/u?e={email}"), env)
    assert by_email.warnings == ("[unsubscribe] url has {email} but no {token}: anyone can unsubscribe anyone; "
                                 "use {token} (signed) instead",)
    assert by_email.secret is None and by_email.token_parts() is None
    assert by_email.for_recipient("a+b@example.com") == ("https://x.example/u?e=a%2Bb%40example.com", None)
    fixed = links_from_settings(_settings(url="https://x.example/unsubscribe"), env)
    assert fixed.warnings == ("[unsubscribe] url has no {token}: the link cannot say who unsubscribes",)
    assert fixed.for_recipient("a@example.com") == ("https://x.example/unsubscribe", None)
    signed = links_from_settings(_settings(url="https://x.example/u/{token}", mailto="u@x.example"), env)
    assert signed.warnings == () and signed.available
    parts = signed.token_parts()
    assert parts is not None and parts[1:] == ("https://x.example/u/", "")
    assert parts[0]("a@example.com") == make_token("a@example.com", KEY)
    assert not links_from_settings(_settings(), env).available
    assert links_from_settings(_settings(mailto="u@x.example"), env).available
    assert links_from_settings(_settings(url="HTTPS://x.example/u/{token}"), env).warnings == ()


def test_the_secret_comes_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    links = links_from_settings(_settings(url="https://x.example/u/{token}"))
    assert links.secret == KEY
    url, mailto = links.for_recipient("ann@example.com")
    assert url == "https://x.example/u/" + make_token("ann@example.com", KEY) and mailto is None
    monkeypatch.delenv("DIGEST_UNSUBSCRIBE_SECRET")
    with pytest.raises(SendRefused, match="DIGEST_UNSUBSCRIBE_SECRET is not set"):
        links_from_settings(_settings(url="https://x.example/u/{token}"))


FORM = b"List-Unsubscribe=One-Click"


@pytest.mark.parametrize("body,want", [
    (b"1a\r\n" + FORM + b"\r\n0\r\n\r\n", "200"),
    (b"d\r\n" + FORM[:13] + b"\r\nD\r\n" + FORM[13:] + b"\r\n0\r\n\r\n", "200"),  # two chunks, hex either case
    (b"1a;name=value\r\n" + FORM + b"\r\n0\r\nX-Trailer: 1\r\nY-Trailer: 2\r\n\r\n", "200"),  # extension, trailers
    (b"1a\n" + FORM + b"\n0\n\n", "200"),                            # bare LF line ends
    (b"1a\r\n" + FORM + b"\r\n0\r\n", "200"),                         # the input ends after the last chunk
    (b"1a;" + b"x" * 300 + b"\r\n" + FORM + b"\r\n0\r\n\r\n", "400"),  # a chunk line beyond 256 bytes
    (b"-1a\r\n" + FORM + b"\r\n0\r\n\r\n", "400"),                    # a negative size
    (b"zz\r\n" + FORM + b"\r\n0\r\n\r\n", "400"),                     # not hex
    (b"1a\r\n" + FORM + b"XX0\r\n\r\n", "400"),                        # no line end after the chunk
    (b"1b\r\n" + FORM, "400"),                                        # the input ends inside a chunk
    (b"1a\r\n" + FORM + b"\r\n", "400"),                              # no last chunk
    (b"1a\r\n" + FORM + b"\r\n0\r\n" + b"X: y\r\n" * 64 + b"\r\n", "400"),  # trailers without end
    (b"1a\r\n" + FORM + b"\r\n0\r\n" + b"X: y\r\n" * 63 + b"\r\n", "200"),
    (b"4000\r\n" + b"x" * 0x4000 + b"\r\n1a\r\n" + FORM + b"\r\n0\r\n\r\n", "413"),  # 16 KiB + 26 bytes
    (b"3fe6\r\n" + b"&" * 0x3FE6 + b"\r\n1a\r\n" + FORM + b"\r\n0\r\n\r\n", "200"),  # exactly 16 KiB
])
def test_a_chunked_one_click_post(tmp_path: Path, body: bytes, want: str) -> None:
    """RFC 8058 POSTs from mail providers may come chunked, through a server that leaves decoding to the app."""
    app = UnsubscribeApp(tmp_path / "s.csv", KEY)
    token = make_token("ann@example.com", KEY)
    status, page = _call(app, "POST", "/unsub", f"t={token}", body,
                         extra={"HTTP_TRANSFER_ENCODING": "Chunked", "CONTENT_LENGTH": ""})
    assert status.startswith(want), (status, page[-300:])
    assert (tmp_path / "s.csv").exists() == (want == "200")
    if want == "400":
        assert "<title>Not understood</title>" in page and "could not be read" in page


def test_pages_say_what_happened(tmp_path: Path) -> None:
    app = UnsubscribeApp(tmp_path / "s.csv", KEY, "Harbour <Notes>")
    token = make_token("ann@example.com", KEY)
    _, page = _call(app, "GET", "/unsub", f"t={token}")
    assert "<title>Unsubscribe</title>" in page and "<h1>Unsubscribe</h1>" in page
    assert "Harbour &lt;Notes&gt;" in page and "<Notes>" not in page
    _, page = _call(app, "POST", "/unsub", f"t={token}", FORM)
    assert "<title>Unsubscribed</title>" in page and "will get no more email from Harbour &lt;Notes&gt;" in page
    _, page = _call(app, "POST", "/unsub", f"t={token}", b"x=1")
    assert "<title>Not understood</title>" in page and "List-Unsubscribe=One-Click" in page
    _, page = _call(app, "GET", "/unsub", "t=nope")
    assert "<title>Link not valid</title>" in page
    _, page = _call(app, "POST", "/unsub", f"t={token}", b"x" * 20_000)
    assert "<title>Request too large</title>" in page


def test_a_secret_of_the_minimum_length_is_enough() -> None:
    for secret in ("k" * 16, "ü" * 8):  # 16 bytes either way
        links = links_from_settings(_settings(url="https://x.example/u/{token}"), {"DIGEST_UNSUBSCRIBE_SECRET": secret})
        assert links.secret == secret.encode()
    with pytest.raises(SendRefused, match=r"too short \(15 bytes\)"):
        links_from_settings(_settings(url="https://x.example/u/{token}"), {"DIGEST_UNSUBSCRIBE_SECRET": "k" * 15})


def test_a_multipart_post_with_any_other_fields(tmp_path: Path) -> None:
    app = UnsubscribeApp(tmp_path / "s.csv", KEY)
    token = make_token("ann@example.com", KEY)
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"note\"\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nnot UTF-8: \xff\xfe\r\n"
            b"--b0undary\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"; filename=\"x.txt\"\r\n\r\n"
            b"One-Click\r\n")
    field = b"--b0undary\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
    end = b"--b0undary--\r\n"
    status, _ = _call(app, "POST", "/unsub", f"t={token}", body + field + end,
                      extra={"CONTENT_TYPE": "multipart/form-data; boundary=b0undary"})
    assert status.startswith("200") and suppressions.load(tmp_path / "s.csv") == {"ann@example.com"}
    # A file upload named like the field is not the field; a multipart type without parts is no form.
    for ctype, data in (("multipart/form-data; boundary=b0undary", body + end),
                        ("multipart/form-data; boundary=other", FORM)):
        status, _ = _call(UnsubscribeApp(tmp_path / "t.csv", KEY), "POST", "/unsub", f"t={token}", data,
                          extra={"CONTENT_TYPE": ctype})
        assert status.startswith("400"), ctype
    assert not (tmp_path / "t.csv").exists()


def test_only_a_single_token_template_is_split_for_the_batch_path() -> None:
    """token_parts() is how the SendGrid rows make each URL (head + token + tail): only for one {token} and no
    {email}; any other template goes through for_recipient, which fills every placeholder."""
    for template in ("https://x.example/u?t={token}&e={email}", "https://x.example/u?a={token}&b={token}",
                     "https://x.example/u?e={email}", "https://x.example/unsubscribe"):
        links = Links(template, "", KEY)
        assert links.token_parts() is None, template
        url, _ = links.for_recipient("a+b@example.com")
        assert url is not None and "{" not in url, template
    parts = Links("https://x.example/u/{token}/confirm?x=1", "", KEY).token_parts()
    assert parts is not None and parts[1:] == ("https://x.example/u/", "/confirm?x=1")
    assert Links("https://x.example/u/{token}", "", None).token_parts() is None  # no secret: nothing to sign
