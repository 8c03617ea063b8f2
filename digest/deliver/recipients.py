"""The recipients CSV, read as a stream: header, delimiter, encoding, address validation, duplicates.

A recipients file is a CSV with a header line. One column holds the address (``email``, compared without
regard to case, spaces or ``-``/``_``: ``Email``, ``E-mail``, ``email_address`` all work); every other
column becomes a merge field named after its header (lower case, each run of spaces, dashes and other
punctuation becomes one ``_``: ``First Name`` → ``first_name``).

- Encoding: UTF-8 with or without a BOM, UTF-16 with a BOM (Excel's "Unicode text"); a file whose start is
  not UTF-8 is read as Windows-1252 (with a warning). A row with bytes that do not decode is reported.
- Delimiter: ``,`` ``;`` or tab, chosen by which one makes the header hold an email column.
- Rows are validated one at a time and never all held in memory; only the set of addresses seen so far
  is kept, to drop case-insensitive duplicates.
- Each bad row is reported (``RowProblem``: line number, address, reason) and the rest still flows.
- Merge values lose control characters (CR, LF, tab, NUL...): a value never breaks a header or a line.

Address validation is email-validator's (``check_deliverability=False``: no DNS) behind a fast path: a
strict ASCII pattern that accepts the common case and gives the same normalized address email-validator
would; anything unusual goes to email-validator. ``tests/unit/test_recipients_fastpath.py`` checks the
two agree on generated tricky addresses.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import email_validator
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from ..errors import DigestError
from ..model import Recipient

DELIMITERS = (",", ";", "\t")
EMAIL_HEADERS = {"email", "emailaddress", "mail", "emailaddr"}
_SNIFF_BYTES = 64 * 1024

# Fast path: a dot-atom local part of common characters, then ASCII host-name labels and a letters-only TLD.
# Anything else (quotes, unicode, punycode, "--", labels that start or end with "-", special-use TLDs, RFC 2142
# role names whose case email-validator folds, long addresses) is left to email-validator. A plain regex
# (no look-arounds: about half the time of one that checks names and hyphens itself), then set look-ups.
_FAST = re.compile(r"([A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*)@((?:[A-Za-z0-9\-]{1,63}\.)+([A-Za-z]{2,63}))")
_ROLES = frozenset(n.lower() for n in CASE_INSENSITIVE_MAILBOX_NAMES)
_SPECIAL_TLDS = frozenset(d.lower() for d in email_validator.SPECIAL_USE_DOMAIN_NAMES if "." not in d)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_FIELD_NAME_BAD = re.compile(r"[^a-z0-9_]+")


class RecipientsError(DigestError):
    """The recipients file as a whole cannot be read (missing, no header, no email column...)."""


@dataclass
class RowProblem:
    """A row that will not be sent: ``kind`` is invalid, duplicate or bad_row (or suppressed, set by send)."""

    line: int
    email: str
    kind: str
    reason: str

    def __str__(self) -> str:
        who = f" {self.email!r}" if self.email else ""
        return f"line {self.line}:{who} {self.reason}"


def fast_validate(address: str) -> str | None:
    """The normalized address when the fast path is sure it is valid, else None (ask email-validator)."""
    if len(address) > 254 or "--" in address:
        return None
    m = _FAST.fullmatch(address)
    if m is None:
        return None
    local, domain, tld = m.groups()
    if (domain[0] == "-" or "-." in domain or ".-" in domain or tld.lower() in _SPECIAL_TLDS
            or local.lower() in _ROLES):
        return None
    at = m.end(1)
    return address[:at] + address[at:].lower()


def slow_validate(address: str) -> tuple[str | None, str | None]:
    """email-validator's verdict: (normalized, None) or (None, reason). No DNS."""
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return None, str(exc)
    return result.normalized, None


def validate_address(address: str) -> tuple[str | None, str | None]:
    """(normalized address, None) when valid, (None, reason) when not. Fast path first."""
    normalized = fast_validate(address)
    if normalized is not None:
        return normalized, None
    return slow_validate(address)


def field_name(header: str) -> str:
    """A CSV header as a merge field name: ``First Name`` → ``first_name``, ``First - Name`` too: each run of
    characters other than letters, digits and ``_`` becomes one ``_`` ('' when nothing is left)."""
    name = _FIELD_NAME_BAD.sub("_", header.strip().lower()).strip("_")
    if name and not name[0].isalpha():
        name = "f_" + name
    return name


def clean_value(value: str) -> str:
    """A merge value without control characters (CR/LF/tab/NUL become one space) and outer spaces."""
    if value.isprintable():
        return value.strip()
    return _CONTROL.sub(" ", value).strip()


def _is_email_header(header: str) -> bool:
    key = header.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    return key in EMAIL_HEADERS


@dataclass
class CsvLayout:
    """What the header told us: the delimiter, encoding, where the address is and the merge fields."""

    path: Path
    encoding: str
    delimiter: str
    columns: list[str]
    email_index: int
    fields: list[tuple[int, str]]  # (column index, merge field name), in column order
    warnings: list[str] = field(default_factory=list)


def _detect_encoding(head: bytes) -> tuple[str, list[str]]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", []
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", []
    try:  # a character cut by the end of a full sample is not an error: its other bytes follow in the file
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError:
        return "cp1252", ["the file is not UTF-8; read it as Windows-1252 (save it as UTF-8 to be sure)"]
    return "utf-8", []


def _describe(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}.get(delimiter, repr(delimiter))


def read_layout(path: Path) -> CsvLayout:
    """Open ``path`` just enough to understand its header. Raises RecipientsError with a clear message."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise RecipientsError(f"{path}: recipients file not found") from None
    except IsADirectoryError:
        raise RecipientsError(f"{path}: is a folder, not a recipients CSV file") from None
    except OSError as exc:
        raise RecipientsError(f"{path}: cannot read the recipients file: {exc.strerror or exc}") from None
    if not head.strip():
        raise RecipientsError(f"{path}: the recipients file is empty",
                              hint="the first line must be a header with an `email` column")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RecipientsError(f"{path}: not a text CSV file (binary data)")
    encoding, warnings = _detect_encoding(head)
    text = head.decode(encoding, errors="replace")
    first_line = text.splitlines()[0] if text.strip() else ""  # utf-8-sig and utf-16 drop the BOM
    tried: list[tuple[str, list[str]]] = []
    for delim in DELIMITERS:
        columns = next(csv.reader([first_line], delimiter=delim), [])
        tried.append((delim, columns))
        hits = [i for i, c in enumerate(columns) if _is_email_header(c)]
        if hits:
            return _layout(path, encoding, delim, columns, hits, warnings)
    if any(validate_address(cell.strip())[0] for _, columns in tried for cell in columns):  # a header names no one
        raise RecipientsError(f"{path}: line 1 is an address, not a header",
                              hint="add a first line naming the columns, e.g. `email,first_name`")
    best = max(tried, key=lambda t: len(t[1]))[1]
    shown = ", ".join(repr(c) for c in best[:12]) or "(none)"
    raise RecipientsError(f"{path}: no `email` column in the header (columns: {shown})",
                          hint="name the address column `email`; the delimiter may be comma, semicolon or tab")


def _layout(path: Path, encoding: str, delim: str, columns: list[str], hits: list[int],
            warnings: list[str]) -> CsvLayout:
    email_index = hits[0]
    warnings = list(warnings)
    if len(hits) > 1:
        warnings.append(f"several address columns; using column {email_index + 1} ({columns[email_index]!r})")
    fields: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, col in enumerate(columns):
        if i in hits:
            continue
        name = field_name(col)
        if not name:
            if col.strip():
                warnings.append(f"column {i + 1} ({col!r}) has no usable name; it is not a merge field")
            continue
        if name in seen:
            warnings.append(f"column {i + 1} ({col!r}) repeats the merge field {name!r}; the first one is used")
            continue
        seen.add(name)
        fields.append((i, name))
    return CsvLayout(path, encoding, delim, columns, email_index, fields, warnings)


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class KeySet:
    """An exact set of strings (the addresses seen so far) in about a third of a ``set``'s memory.

    A million addresses in a ``set`` cost ~120 MB (a str object and a table slot each). Here the keys are
    grouped by hash into 131,072 buckets, each one string ``"\\nkey1\\nkey2\\n"``; membership is a substring
    search for ``"\\nkey\\n"``, exact because a key holding a newline goes to an ordinary set instead.
    """

    __slots__ = ("_buckets", "_other")
    MASK = (1 << 17) - 1

    def __init__(self) -> None:
        self._buckets: list[str] = ["\n"] * (self.MASK + 1)
        self._other: set[str] = set()

    def add(self, key: str) -> bool:
        """Add ``key``; False when it was there already."""
        if "\n" in key:
            if key in self._other:
                return False
            self._other.add(key)
            return True
        slot = hash(key) & self.MASK
        blob = self._buckets[slot]
        needle = f"\n{key}\n"
        if needle in blob:
            return False
        self._buckets[slot] = blob[:-1] + needle
        return True

    def __contains__(self, key: str) -> bool:
        if "\n" in key:
            return key in self._other
        return f"\n{key}\n" in self._buckets[hash(key) & self.MASK]

    def discard(self, key: str) -> None:
        if "\n" in key:
            self._other.discard(key)
            return
        slot = hash(key) & self.MASK
        self._buckets[slot] = self._buckets[slot].replace(f"\n{key}\n", "\n", 1)


class RecipientStream:
    """Iterator of valid, unique ``Recipient``s; fills ``problems`` as it goes.

    ``rows`` counts data rows read so far (blank lines excluded); ``valid`` the recipients yielded.
    The file stays open only while iterating.
    """

    def __init__(self, layout: CsvLayout, problems: list[RowProblem], *, dedupe: bool) -> None:
        self.layout = layout
        self.problems = problems
        self.rows = 0
        self.valid = 0
        self._dedupe = dedupe
        self._iter = self._generate()

    def __iter__(self) -> Iterator[Recipient]:
        return self._iter  # the generator itself: one Python frame less per row

    def __next__(self) -> Recipient:
        return next(self._iter)

    def keep_only(self, keep: Callable[[Recipient], bool]) -> None:
        """From now on yield only the recipients ``keep`` accepts; the others pass silently (no row problem)."""
        rows = self._iter
        self._iter = (r for r in rows if keep(r))

    def _generate(self) -> Iterator[Recipient]:
        layout = self.layout
        email_index = layout.email_index
        fields = layout.fields
        problems = self.problems
        seen = KeySet()
        add_new = seen.add
        dedupe = self._dedupe
        width = max([i for i, _ in fields] + [email_index]) + 1
        fast = fast_validate
        try:
            fh = layout.path.open("r", encoding=layout.encoding, errors="surrogateescape", newline="")
        except OSError as exc:
            raise RecipientsError(f"{layout.path}: cannot read the recipients file: {exc}") from None
        with fh:
            reader = csv.reader(fh, delimiter=layout.delimiter)
            try:
                next(reader)  # the header
            except (StopIteration, csv.Error):
                return
            prev_end = reader.line_num
            rows = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    line = prev_end + 1
                    prev_end = reader.line_num
                    problems.append(RowProblem(line, "", "bad_row", f"cannot parse the row: {exc}"))
                    continue
                line = prev_end + 1
                prev_end = reader.line_num
                rows += 1
                self.rows = rows
                raw = row[email_index].strip() if email_index < len(row) else ""
                if not raw:
                    if any(v.strip() for v in row):
                        problems.append(RowProblem(line, "", "invalid", "no address in the email column"))
                    else:
                        rows -= 1  # a blank line or a row of empty cells: nothing there
                        self.rows = rows
                    continue
                address = fast(raw)
                if address is None:
                    if _has_surrogates(raw):
                        problems.append(RowProblem(line, raw.encode("utf-8", "replace").decode("utf-8"), "invalid",
                                                   "the address is not valid UTF-8 text"))
                        continue
                    address, reason = slow_validate(raw)
                    if address is None:
                        problems.append(RowProblem(line, raw, "invalid", reason or "not a valid address"))
                        continue
                if dedupe and not add_new(address.lower()):
                    problems.append(RowProblem(line, address, "duplicate",
                                               "duplicate of an earlier row (addresses compare without case)"))
                    continue
                if len(row) >= width and "".join(row).isprintable():  # the common case: nothing to clean
                    values = {name: row[index].strip() for index, name in fields}
                else:
                    bad = ""
                    values = {}
                    for index, name in fields:
                        value = row[index] if index < len(row) else ""
                        if not value.isascii() and _has_surrogates(value):
                            bad = name
                            break
                        values[name] = clean_value(value)
                    if bad:
                        reason = f"the {bad} value is not valid UTF-8 text"
                        problems.append(RowProblem(line, address, "bad_row", reason))
                        if dedupe:
                            seen.discard(address.lower())
                        continue
                self.valid += 1
                yield Recipient(address, values, line)


def read_recipients(path: Path | str, *, dedupe: bool = True) -> tuple[RecipientStream, list[RowProblem]]:
    """Stream the valid, unique recipients of ``path``; row problems collect in the list as rows are read.

    The header is read (and checked) now: a missing file, no header or no email column raises
    ``RecipientsError``. Rows are read only while the stream is consumed.
    """
    layout = read_layout(Path(path))
    problems: list[RowProblem] = []
    return RecipientStream(layout, problems, dedupe=dedupe), problems


def count_rows(path: Path | str) -> int:
    """A quick estimate of the data rows (line count minus the header), for progress and ETA."""
    n = 0
    last = b"\n"
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        n += 1
    return max(0, n - 1)


def describe_layout(layout: CsvLayout) -> str:
    """One line for the user: delimiter, encoding, address column and merge fields."""
    fields = ", ".join(name for _, name in layout.fields) or "none"
    return (f"{layout.path.name}: {_describe(layout.delimiter)}-separated, {layout.encoding}, "
            f"address column {layout.columns[layout.email_index]!r}, merge fields: {fields}")


def iter_addresses(path: Path | str) -> Iterator[tuple[int, str]]:
    """(line, raw address) for every non-empty address cell of a CSV with an email column (no validation)."""
    layout = read_layout(Path(path))
    with layout.path.open("r", encoding=layout.encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=layout.delimiter)
        next(reader)  # the header (read_layout found one)
        prev_end = reader.line_num
        for row in reader:
            line = prev_end + 1
            prev_end = reader.line_num
            if layout.email_index < len(row) and row[layout.email_index].strip():
                yield line, row[layout.email_index].strip()

