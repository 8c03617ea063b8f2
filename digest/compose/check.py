"""``digest check DIR``: the gate an editor runs before sending.

Each check returns findings with a level: ``error`` blocks a send (exit 1), ``warning`` is worth a look,
``info`` is a figure or an accepted finding, ``skipped`` says a tool is missing (an error under
``CI=true``: a check never passes silently; the verdict line counts the checks not run and why).

Checks on the built issue (built first when out of date):
- size of email.html (Gmail clips a message above ~102 KB), images without alt / not https / over 1 MB,
  links that are neither http(s) nor mailto, unsubscribe link, postal address, sender (free-mail domains
  fail DMARC);
- caniemail (doiuse-email; found, or fetched at a pinned version, by ``node_tools``) for Gmail, Outlook on
  Windows and Apple Mail: a layout-critical feature (flex, grid, position, calc, CSS variables, SVG...) is
  an error, findings in ``ACCEPTED`` are listed as info with the reason (docs/email.md), anything else is a warning;
- SpamAssassin with local rules only (``spamassassin -L -t``): score and the rules that fired;
- html-validate 10 (standard + a11y presets, three rules off, see ``htmlvalidate.json``);
- with ``links=True``: every article link answers 2xx (4xx/5xx/unreachable are errors, redirects warnings).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html

from ..config import Settings, load_settings
from ..errors import DigestError
from . import node_tools
from .build import build_issue, load_warnings, needs_build

GMAIL_CLIP_BYTES = 102_000  # Gmail clips the HTML part above about 102 KB
SIZE_WARN_BYTES = 90_000
IMAGE_MAX_BYTES = 1_000_000
SPAM_WARN = 1.0  # our bar; SpamAssassin's own threshold is 5.0
SPAM_BLOCK = 5.0
CLIENTS = "gmail.*,outlook.windows,apple-mail.*"
FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com", "rocketmail.com",
    "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "live.com", "msn.com", "aol.com", "icloud.com",
    "me.com", "mac.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "yandex.com", "yandex.ru",
    "mail.ru", "zoho.com", "protonmail.com", "proton.me", "pm.me", "tutanota.com", "fastmail.com", "hey.com",
    "qq.com", "163.com", "126.com", "naver.com", "orange.fr", "free.fr", "laposte.net", "libero.it",
})

# caniemail features that break the layout where unsupported: never accepted.
LAYOUT_CRITICAL = frozenset({
    "display:flex", "display:grid", "flex-direction:column", "flex-wrap: wrap", "gap, column-gap, row-gap",
    "grid-template-* properties", "align-items", "justify-content", "position", "left, right, top, bottom",
    "float", "CSS calc() function", "clamp()", "max()", "min()", "CSS Variables (Custom Properties)",
    "Embedded <svg> image", "SVG image format", "transform", "z-index", "vw unit", "vh unit", "aspect-ratio",
    "object-fit", "writing-mode", "CSS Nesting", "@supports", "box-sizing",
})

# Findings the theme accepts, and why (kept in step with docs/email.md "Accepted caniemail findings").
ACCEPTED: dict[str, str] = {
    "@media": "responsive and dark-mode rules are progressive enhancement; Outlook and Gmail's mobile webmail "
              "get the fixed 600 px layout (ghost tables, max-width) and the light theme",
    "@media (prefers-color-scheme)": "dark mode is an enhancement; clients without it show the light theme",
    "Attribute selector": "only used for [x-apple-data-detectors] and Outlook.com's [data-ogsc] dark-mode "
                          "hooks, which target the clients that support them",
    "Class selector": "Gmail's mobile webmail drops <style>; every layout style is also inlined",
    "Type selector": "Gmail's mobile webmail drops <style>; every layout style is also inlined",
    "Descendant combinator": "Gmail's mobile webmail drops <style>; every layout style is also inlined",
    "Grouping selectors": "Gmail's mobile webmail drops <style>; every layout style is also inlined",
    "border-radius": "Outlook on Windows shows square corners on images and the Read more button",
    "outline": "outline:none is an image reset; Outlook on Windows ignores it harmlessly",
    "opacity": "part of hiding the preheader; Outlook hides it with mso-hide:all instead",
    "overflow": "part of hiding the preheader; Outlook hides it with mso-hide:all instead",
    "display:none": "hides the preheader; Gmail's mobile webmail falls back to the preheader's other inline "
                    "styles (font-size:1px, max-height:0, max-width:0)",
    "!important keyword": "only in the dark-mode and responsive <style> block, where it must beat inline "
                          "styles",
    "text-transform": "section headings: clients without it show the title as written",
    "letter-spacing": "section headings: cosmetic",
    "box-shadow": "not used by the theme; cosmetic when a user template adds it",
    "background-color": "colour falls back to the bgcolor attributes premailer writes",
}


@dataclass
class Finding:
    check: str
    level: str  # error | warning | info | skipped
    message: str


@dataclass
class CheckReport:
    directory: Path
    findings: list[Finding] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    not_run: dict[str, str] = field(default_factory=dict)  # check -> why it did not run
    notify: Any = None  # called with a progress line (e.g. fetching the Node tools on first use)
    hints: list[str] = field(default_factory=list)  # how to add the checks that did not run

    @property
    def blocked(self) -> bool:
        return any(f.level == "error" for f in self.findings)

    @property
    def verdict(self) -> str:
        """The last line of ``digest check``: never "ready to send" with a check silently not run."""
        if self.blocked:
            return "blocked: fix the errors above before sending"
        if not self.not_run:
            return "ready to send"
        reasons = "; ".join(dict.fromkeys(self.not_run.values()))
        n = len(self.not_run)
        return f"ready to send, {n} check{'s' if n != 1 else ''} not run ({reasons})"

    def add(self, check: str, level: str, message: str) -> None:
        self.findings.append(Finding(check, level, message))

    def to_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "blocked": self.blocked, "verdict": self.verdict,
                "not_run": self.not_run, "hints": self.hints, "figures": self.figures,
                "findings": [f.__dict__ for f in self.findings]}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _missing_tool(report: CheckReport, check: str, what: str, reason: str = "", hint: str = "") -> None:
    """A check that could not run: ``skipped`` (named again in the verdict), an error under CI=true."""
    level = "error" if in_ci() else "skipped"
    report.add(check, level, f"{what}: this check did not run" + (" (required under CI=true)" if in_ci() else ""))
    report.not_run[check] = reason or what
    if hint and hint not in report.hints:
        report.hints.append(hint)


def _node_tool(report: CheckReport, check: str, package: str) -> node_tools.NodeTool | None:
    try:
        return node_tools.node_tool(package, notify=report.notify)
    except node_tools.ToolMissing as exc:
        _missing_tool(report, check, exc.detail, exc.reason, node_tools.HOW_TO_ADD)
        return None


# --- pure checks on the built files ----------------------------------------------------------------


def check_html(html: str, report: CheckReport, build_dir: Path | None = None) -> None:
    """Size, images (alt, https, weight), link schemes, unsubscribe link: no tools needed."""
    size = len(html.encode("utf-8"))
    report.figures["email_html_bytes"] = size
    if size >= GMAIL_CLIP_BYTES:
        report.add("size", "error", f"email.html is {size / 1000:.1f} KB: Gmail clips messages above 102 KB "
                                    "(fewer articles or shorter teasers)")
    elif size >= SIZE_WARN_BYTES:
        report.add("size", "warning", f"email.html is {size / 1000:.1f} KB, close to Gmail's 102 KB clip")
    else:
        report.add("size", "info", f"email.html is {size / 1000:.1f} KB (Gmail clips above 102 KB)")
    doc = lxml.html.document_fromstring(html)
    for img in doc.iter("img"):
        src = img.get("src") or ""
        if img.get("alt") is None:
            report.add("images", "error", f"image without alt text: {src[:100]}")
        if urlsplit(src).scheme.lower() != "https":
            report.add("images", "error", f"image not reachable by an https URL: {src[:100]}")
        if build_dir is not None and src:
            local = build_dir / "images" / Path(urlsplit(src).path).name
            if local.is_file() and local.stat().st_size > IMAGE_MAX_BYTES:
                report.add("images", "warning", f"image {local.name} is {local.stat().st_size / 1e6:.1f} MB "
                                                "(over 1 MB: slow to load, may be blocked)")
    unsubscribe = False
    for a in doc.iter("a"):
        href = (a.get("href") or "").strip()
        label = a.text_content().strip()
        if not href:
            continue
        if re.fullmatch(r"__DG_[A-Z0-9_]+__", href):
            unsubscribe = unsubscribe or "UNSUBSCRIBE" in href
            continue
        scheme = urlsplit(href).scheme.lower()
        if scheme not in ("http", "https", "mailto"):
            report.add("links", "error", f"link {label[:40]!r} is neither http(s) nor mailto: {href[:100]}")
        if "unsubscribe" in label.lower():
            unsubscribe = True
    if not unsubscribe:
        report.add("unsubscribe", "error", "email.html has no unsubscribe link")


def check_settings(settings: Settings, report: CheckReport) -> None:
    nl = settings.newsletter
    sender = str(nl.get("from_email") or "").strip()
    if not sender:
        report.add("sender", "error", "newsletter.from_email is not set in digest.toml")
    else:
        domain = sender.rpartition("@")[2].lower()
        if domain in FREE_MAIL:
            report.add("sender", "error", f"From address {sender} is on the free-mail domain {domain}: its DMARC "
                                          "policy makes providers reject bulk mail sent from elsewhere "
                                          "(use an address on your own domain)")
    if not str(nl.get("postal_address") or "").strip():
        report.add("postal address", "error", "newsletter.postal_address is not set (CAN-SPAM requires it)")
    unsub = settings["unsubscribe"]
    url, mailto = str(unsub.get("url") or "").strip(), str(unsub.get("mailto") or "").strip()
    asm = int(settings["sendgrid"].get("asm_group_id") or 0) > 0
    if not url and not mailto and asm:
        report.add("unsubscribe", "warning", "only SendGrid's unsubscribe group (sendgrid.asm_group_id): the outbox "
                                             "and SMTP backends have no unsubscribe method and refuse to send")
    elif not url and not mailto:
        report.add("unsubscribe", "error", "no unsubscribe method: set unsubscribe.url and/or unsubscribe.mailto")
    if url and urlsplit(url).scheme.lower() != "https":
        report.add("unsubscribe", "error", f"unsubscribe.url is not https ({url}): one-click unsubscribe "
                                           "(RFC 8058) needs https")
    elif url and "{token}" not in url and "{email}" not in url:
        report.add("unsubscribe", "warning", "unsubscribe.url has neither {token} nor {email}: every recipient "
                                             "gets the same link")
    if not (url or "").startswith("https") and mailto:
        report.add("unsubscribe", "warning", "only a mailto unsubscribe: Gmail and Yahoo ask bulk senders for "
                                             "one-click https unsubscribe")


def raw_header(eml: bytes, name: str) -> list[bytes]:
    """The physical lines (first line and continuation lines, without CRLF) of header ``name`` in ``eml``'s
    top-level header block, read from the bytes as they are: no decoding, no unfolding."""
    head = eml.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in eml else eml.split(b"\n\n", 1)[0]
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    want = name.lower().encode("ascii") + b":"
    out: list[bytes] = []
    for line in lines:
        if out and line[:1] in (b" ", b"\t"):
            out.append(line)
        elif out:
            break
        elif line.lower().startswith(want):
            out.append(line)
    return out


def check_message_headers(eml: bytes, settings: Settings, report: CheckReport) -> None:
    """message.eml's List-Unsubscribe as a mailbox provider reads it: ``<https://...>`` in the raw bytes, no
    RFC 2047 encoded-word, every line at most 998 octets. The sample carries a real-length signed token."""
    lines = raw_header(eml, "List-Unsubscribe")
    url = str(settings["unsubscribe"].get("url") or "").strip()
    if not lines:
        if url or settings["unsubscribe"].get("mailto"):
            report.add("headers", "error", "message.eml has no List-Unsubscribe header")
        return
    long_lines = [len(line) for line in eml.split(b"\r\n\r\n", 1)[0].split(b"\r\n") if len(line) > 998]
    raw = b"".join(lines)
    if b"=?" in raw:
        report.add("headers", "error", "List-Unsubscribe is RFC 2047 encoded (=?...?=): providers see no "
                                       "<https://...> and offer no one-click unsubscribe")
    elif url.lower().startswith("https://") and b"<https://" not in raw:
        report.add("headers", "error", "List-Unsubscribe holds no literal <https://...> URL")
    elif long_lines:
        report.add("headers", "error", f"a header line of message.eml is {max(long_lines)} octets (at most 998)")
    else:
        report.add("headers", "info", f"List-Unsubscribe is written as is over {len(lines)} line(s), the longest "
                                      f"{max(len(line) for line in lines)} octets")


# --- caniemail -------------------------------------------------------------------------------------

_NOT_SUPPORTED = re.compile(r"^`(?P<feature>.+?)` is not supported by `(?P<client>[^`]+)`")


def classify_caniemail(errors: Iterable[str], report: CheckReport) -> None:
    """Turn doiuse-email's "not supported" lines into findings: critical → error, accepted → info."""
    by_feature: dict[str, set[str]] = {}
    for line in errors:
        m = _NOT_SUPPORTED.match(line)
        if m:
            by_feature.setdefault(m.group("feature"), set()).add(m.group("client"))
    report.figures["caniemail_unsupported"] = {k: sorted(v) for k, v in sorted(by_feature.items())}
    for feature, clients in sorted(by_feature.items()):
        where = ", ".join(sorted(clients))
        if feature in LAYOUT_CRITICAL:
            report.add("caniemail", "error", f"{feature} is not supported by {where}: the layout breaks there")
        elif feature in ACCEPTED:
            report.add("caniemail", "info", f"accepted: {feature} unsupported by {where} ({ACCEPTED[feature]})")
        else:
            report.add("caniemail", "warning", f"{feature} is not supported by {where}")


def check_caniemail(html_path: Path, report: CheckReport) -> None:
    tool = _node_tool(report, "caniemail", "doiuse-email")
    if tool is None:
        return
    try:
        proc = subprocess.run(tool.argv("-e", CLIENTS, str(html_path)), capture_output=True, text=True,
                              timeout=120, check=False)
        data = json.loads(proc.stdout)
    except (subprocess.TimeoutExpired, ValueError, OSError) as exc:
        report.add("caniemail", "error", f"doiuse-email failed: {exc}")
        return
    classify_caniemail(data.get("errors", []), report)


# --- SpamAssassin ----------------------------------------------------------------------------------

_SA_SCORE = re.compile(r"Content analysis details:\s+\((?P<score>-?[\d.]+) points")
_SA_RULE = re.compile(r"^\s*(?P<pts>-?\d+(?:\.\d+)?)\s+(?P<rule>[A-Z0-9_]+)\s+(?P<desc>.*)$", re.M)


def spamassassin_score(eml: bytes) -> tuple[float, list[tuple[str, float, str]]]:
    """Score and rules fired (local rules only, no network tests). Raises DigestError on failure."""
    tool = shutil.which("spamassassin")
    if tool is None:
        raise FileNotFoundError("spamassassin")
    with tempfile.TemporaryDirectory(prefix="digest-sa-") as home:
        env = {**os.environ, "HOME": home}  # user_prefs created here, not in the real home
        proc = subprocess.run([tool, "-L", "-t"], input=eml, capture_output=True, timeout=180, env=env,
                              check=False)
    out = proc.stdout.decode("utf-8", "replace")
    m = _SA_SCORE.search(out)
    if not m:
        raise DigestError(f"spamassassin gave no score (exit {proc.returncode}): "
                          f"{proc.stderr.decode('utf-8', 'replace')[-300:]}")
    details = out[m.end():]
    rules = [(r.group("rule"), float(r.group("pts")), r.group("desc").strip()) for r in _SA_RULE.finditer(details)]
    return float(m.group("score")), rules


def check_spam(eml_path: Path, report: CheckReport) -> None:
    try:
        score, rules = spamassassin_score(eml_path.read_bytes())
    except FileNotFoundError:
        _missing_tool(report, "spam", "spamassassin is not installed", "no SpamAssassin",
                      "install SpamAssassin (e.g. apt install spamassassin; brew install spamassassin)")
        return
    except (DigestError, subprocess.TimeoutExpired) as exc:
        report.add("spam", "error", f"spamassassin failed: {exc}")
        return
    report.figures["spam_score"] = score
    report.figures["spam_rules"] = [r for r, _, _ in rules]
    fired = ", ".join(f"{r} ({p:+.1f})" for r, p, _ in rules if p != 0) or "none with points"
    level = "error" if score >= SPAM_BLOCK else "warning" if score > SPAM_WARN else "info"
    report.add("spam", level, f"SpamAssassin score {score:.1f} (local rules; bar {SPAM_WARN}, spam at "
                              f"{SPAM_BLOCK}); rules with points: {fired}")


# --- html-validate ---------------------------------------------------------------------------------

HTMLVALIDATE_CONFIG = Path(__file__).with_name("htmlvalidate.json")


def check_html_validate(html_path: Path | list[Path], report: CheckReport) -> None:
    """html-validate on one or more files (one node start for all)."""
    paths = html_path if isinstance(html_path, list) else [html_path]
    tool = _node_tool(report, "html-validate", "html-validate")
    if tool is None:
        return
    try:
        proc = subprocess.run([*tool.argv(), "--config", str(HTMLVALIDATE_CONFIG), "--formatter", "json",
                               *map(str, paths)], capture_output=True, text=True, timeout=120, check=False)
        results = json.loads(proc.stdout or "[]")
    except (subprocess.TimeoutExpired, ValueError, OSError) as exc:
        report.add("html-validate", "error", f"html-validate failed: {exc}")
        return
    errors = 0
    for res in results:
        for msg in res.get("messages", []):
            level = "error" if msg.get("severity") == 2 else "warning"
            errors += level == "error"
            name = Path(res.get("filePath", "")).name
            report.add("html-validate", level, f"{name}:{msg.get('line')}:{msg.get('column')} "
                                               f"{msg.get('message')} ({msg.get('ruleId')})")
    report.figures["html_validate_errors"] = errors
    if not errors:
        report.add("html-validate", "info", "html-validate (standard + a11y): no errors")


# --- links -----------------------------------------------------------------------------------------


def article_links(html: str) -> list[str]:
    """The distinct http(s) links of the article blocks (not the footer), in order."""
    doc = lxml.html.document_fromstring(html)
    seen: dict[str, None] = {}
    for a in doc.xpath("//td[contains(concat(' ', @class, ' '), ' dg-article ')]//a[@href]"):
        href = a.get("href")
        if urlsplit(href).scheme.lower() in ("http", "https"):
            seen.setdefault(href, None)
    return list(seen)


def probe(url: str, timeout: float = 10.0,
          allow_hosts: list[str] | None = None) -> tuple[int | None, str | None, str | None, int | None]:
    """(status, location, error, content length) for ``url`` without following redirects.

    HEAD first, then GET when HEAD is refused (403/405/501). The URL came from the issue's content: it may not
    reach a loopback, private or link-local address unless its host is in ``[fetch] allow_hosts`` (checked
    before connecting, see ``sources.fetch``).
    """
    from ..sources.fetch import FetchError, _Deadline, open_url

    headers = {"User-Agent": "digest-check/1 (+link check)"}
    deadline = _Deadline(timeout)
    try:
        resp = None
        for method in ("HEAD", "GET"):
            conn, resp = open_url(url, method, trusted=False, allow_hosts=allow_hosts, connect_timeout=timeout,
                                  read_timeout=timeout, deadline=deadline, headers=headers)
            conn.close()  # the body is never read
            if resp.status not in (403, 405, 501):
                break
        assert resp is not None
        length = resp.getheader("Content-Length")
        size = int(length) if length and length.isdigit() else None
        return resp.status, resp.getheader("Location"), None, size
    except FetchError as exc:
        return None, None, str(exc), None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, None, f"{type(exc).__name__}: {str(exc)[:120]}", None
    finally:
        deadline.cancel()


def image_sources(html: str) -> list[str]:
    doc = lxml.html.document_fromstring(html)
    return list(dict.fromkeys(img.get("src") for img in doc.iter("img")
                              if urlsplit(img.get("src") or "").scheme.lower() in ("http", "https")))


def check_links(html: str, report: CheckReport, allow_hosts: list[str] | None = None) -> None:
    """Article links must answer 2xx; images must be reachable and at most 1 MB. The URLs came from content:
    none is requested on a local or private address unless its host is in ``allow_hosts``."""
    links = article_links(html)
    report.figures["links_checked"] = len(links)
    for url in links:
        status, location, error, _ = probe(url, allow_hosts=allow_hosts or [])
        if error:
            report.add("links", "error", f"{url} unreachable: {error}")
        elif status is not None and status >= 400:
            report.add("links", "error", f"{url} answers {status}")
        elif status is not None and 300 <= status < 400:
            report.add("links", "warning", f"{url} redirects ({status}) to {location or '?'}: link the final URL")
    images = image_sources(html)
    report.figures["images_checked"] = len(images)
    for url in images:
        status, location, error, size = probe(url, allow_hosts=allow_hosts or [])
        if error or (status is not None and status >= 400):
            report.add("images", "error", f"image {url} is not reachable: {error or status}")
        elif status is not None and 300 <= status < 400:
            report.add("images", "warning", f"image {url} redirects ({status}) to {location or '?'}")
        elif size is not None and size > IMAGE_MAX_BYTES:
            report.add("images", "warning", f"image {url} is {size / 1e6:.1f} MB (over 1 MB)")


# --- the whole gate --------------------------------------------------------------------------------


def check_issue(directory: Path | str, *, links: bool = False, tools: bool = True,
                notify: Any = None) -> CheckReport:
    """Build when out of date, then run every check; ``tools=False`` runs only the in-process checks."""
    directory = Path(directory).resolve()
    warnings = build_issue(directory).warnings if needs_build(directory) else load_warnings(directory)
    report = CheckReport(directory, notify=notify)
    for w in warnings:  # fresh or current, the build's warnings are always shown
        report.add("build", "warning", w)
    build = directory / "build"
    html = (build / "email.html").read_text(encoding="utf-8")
    check_html(html, report, build)
    settings = load_settings(directory)
    check_settings(settings, report)
    check_message_headers((build / "message.eml").read_bytes(), settings, report)
    if tools:
        check_caniemail(build / "email.html", report)
        check_spam(build / "message.eml", report)
        check_html_validate(build / "email.html", report)
    if links:
        check_links(html, report, settings.allow_hosts())
    return report


def send_gate(directory: Path | str) -> list[str]:
    """The errors ``digest check`` finds that ``digest send`` refuses to send with (``--force`` overrides).

    Only the in-process checks run (size, images, links, unsubscribe, sender, postal address, the raw
    List-Unsubscribe header): no network, no Node tools, no SpamAssassin, so the gate costs a few
    milliseconds. The tool checks stay with ``digest check``, which the editor runs before sending.
    """
    report = check_issue(directory, tools=False)
    return [f"[{f.check}] {f.message}" for f in report.findings if f.level == "error"]
