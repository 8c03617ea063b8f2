"""The validation fast path must agree with email-validator: same verdict, same normalized address.

The addresses are generated (seeded) from pieces chosen to sit on every edge the fast path has: dots,
dashes, role names in any case, special-use and numeric TLDs, punycode, unicode, quotes, lengths at the
limits, whitespace and control characters.
"""

from __future__ import annotations

import random

from digest.deliver.recipients import fast_validate, slow_validate, validate_address

LOCALS = [
    "a", "john.smith", "John.Smith", "x+tag", "first_last", "a-b", "a--b", ".dot", "dot.", "a..b", "o'neil",
    "info", "INFO", "Info", "postmaster", "PostMaster", "news", "newsletter", "www", "wwwx", "sales.team",
    "\"quoted\"", "\"a b\"", "üser", "ユーザー", "a b", "a\tb", "a\nb", "", "a@b", "a%b", "a/b", "a=b", "{x}",
    "1", "0000", "_", "-", "+", "a" * 64, "a" * 65, "Ab" * 40, "a.b.c.d", "ß", "x\u0301", "x\u200b",
    "abuse", "noc", "security.", "support-team", "FTP", "uucp",
]
DOMAINS = [
    "example.com", "EXAMPLE.COM", "Example.Org", "mail.example.co.uk", "sub-domain.example.net", "a.io",
    "x.c0m", "x.123", "x.c", "localhost", "x.localhost", "host.local", "host.LOCAL", "x.test", "x.Test",
    "x.invalid", "x.onion", "1.0.0.127.in-addr.arpa", "x.arpa", "xn--bcher-kva.example", "xn--abc.com",
    "ab--cd.com", "xn--d1acufc.xn--p1ai", "bücher.example", "ＥＸＡＭＰＬＥ.com", "-lead.com", "trail-.com",
    "a_b.com", "a..com", ".com", "com.", "example.com.", "[127.0.0.1]", "[IPv6:::1]", "x" * 63 + ".com",
    "x" * 64 + ".com", ".".join(["abcdefghij"] * 24) + ".com", "exa mple.com", "example.com ",
    "exam\u200bple.com", "example.museum", "example.technology", "e.xn--vermgensberatung-pwb", "1.2.3.4",
    "example.c-m", "ex-ample.com", "e.co", "E.CO", "example.x" + "y" * 62, "example." + "z" * 64,
]
JOINERS = ["@", "@", "@", "@@", " @", "@ ", ""]
WRAPS = [("", ""), ("", ""), ("", ""), (" ", ""), ("", " "), ("<", ">"), ("Name <", ">"), ("\"", "\"")]


def generated(n: int, seed: int = 20261) -> list[str]:
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        local = rng.choice(LOCALS)
        if rng.random() < 0.3:
            local = local + rng.choice([".", "-", "_", "+", ""]) + rng.choice(LOCALS)
        if rng.random() < 0.15:
            local = "".join(c.upper() if rng.random() < 0.5 else c for c in local)
        domain = rng.choice(DOMAINS)
        if rng.random() < 0.2:
            domain = rng.choice(["mail.", "a-b.", "x1.", "-", "xn--", "MX."]) + domain
        if rng.random() < 0.1:
            domain = "".join(c.upper() if rng.random() < 0.5 else c for c in domain)
        pre, post = rng.choice(WRAPS) if rng.random() < 0.2 else ("", "")
        joiner = rng.choice(JOINERS) if rng.random() < 0.2 else "@"
        out.add(pre + local + joiner + domain + post)
    return sorted(out)


def test_fast_path_agrees_with_email_validator_on_generated_addresses() -> None:
    addresses = generated(12_000)
    fast_yes = 0
    slow_yes = 0
    for address in addresses:
        normalized, reason = slow_validate(address)
        fast = fast_validate(address)
        if fast is not None:
            fast_yes += 1
            assert normalized == fast, (address, fast, normalized, reason)
        if normalized is not None:
            slow_yes += 1
        assert validate_address(address) == (normalized, reason), address
    # Not a fast path that defers everything: it must take a real share of the valid addresses.
    assert slow_yes > 1500, slow_yes
    assert fast_yes > slow_yes * 0.25, (fast_yes, slow_yes)


def test_fast_path_takes_the_common_case() -> None:
    rng = random.Random(7)
    names = ["anna", "Bob", "chris.doe", "d_e", "eve+news", "frank-o", "g1", "HANNA.M"]
    hosts = ["gmail.com", "Example.org", "mail.example.co.uk", "uni-x.edu", "a1.io"]
    for _ in range(2000):
        address = f"{rng.choice(names)}{rng.randrange(1000)}@{rng.choice(hosts)}"
        fast = fast_validate(address)
        assert fast is not None, address
        assert fast == slow_validate(address)[0]


def test_fast_path_defers_what_email_validator_folds_or_rejects() -> None:
    assert fast_validate("Info@Example.COM") is None  # RFC 2142 role name: email-validator lower-cases it
    assert validate_address("Info@Example.COM") == ("info@example.com", None)
    assert fast_validate("a@x.test") is None and validate_address("a@x.test")[0] is None
    assert fast_validate("a@ab--cd.com") is None and validate_address("a@ab--cd.com")[0] is None
    assert fast_validate("Ann.Lee@Mail.Example.ORG") == "Ann.Lee@mail.example.org"


def test_every_wrapper_and_joiner_is_covered() -> None:
    sample = generated(12_000)
    assert any(a.startswith("Name <") for a in sample)
    assert any("@@" in a for a in sample)
    assert any("xn--" in a for a in sample)


def _of_length(total: int, local: int = 0) -> str:
    """A plain address ``total`` characters long (a local part of ``local`` characters when given)."""
    label = "x" * 63
    domain = ".".join([label, label, label]) + ".com"  # 196 characters
    if local:
        return "a" * local + "@" + "b" * (total - local - 1 - 4) + ".com"
    return "a" * (total - len(domain) - 1) + "@" + domain


def test_the_length_limits_agree_with_email_validator() -> None:
    cases = [_of_length(n) for n in (253, 254, 255, 256, 320)]
    cases += [_of_length(80, local=n) for n in (63, 64, 65)]
    cases += ["a@" + "x" * n + ".com" for n in (62, 63, 64)]
    cases += ["a@" + "x" * 63 + "." + "y" * n for n in (62, 63, 64)]
    for address in cases:
        assert validate_address(address) == slow_validate(address), (len(address), address)
    assert validate_address(_of_length(254))[0] == _of_length(254)
    assert validate_address(_of_length(255))[0] is None  # one character over RFC 5321's 254
