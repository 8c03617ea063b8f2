"""Recipients CSV: header and delimiter detection, encodings, bad rows with line numbers, duplicates, cleaning."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from digest.deliver.recipients import (
    RecipientsError,
    clean_value,
    count_rows,
    field_name,
    read_layout,
    read_recipients,
)


def _write(tmp_path: Path, data: bytes, name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_bom_is_not_part_of_the_header(fixtures: Path) -> None:
    stream, problems = read_recipients(fixtures / "deliver" / "bom.csv")
    got = list(stream)
    assert [r.email for r in got] == ["ann@example.com", "bob@example.org"]
    assert got[0].fields == {"first_name": "Ann", "city": "Oslo"}
    assert got[1].fields["first_name"] == ""  # empty: the merge default applies later
    assert problems == []


def test_semicolon_delimiter_and_header_case(fixtures: Path) -> None:
    stream, problems = read_recipients(fixtures / "deliver" / "semicolon.csv")
    assert stream.layout.delimiter == ";"
    got = list(stream)
    assert [(r.email, r.fields) for r in got] == [("karl@example.de", {"vorname": "Karl"}),
                                                  ("lisa@example.de", {"vorname": "Lisa"})]


def test_tab_delimiter(tmp_path: Path) -> None:
    path = _write(tmp_path, b"First Name\tEMAIL\nAnn\tann@example.com\n")
    stream, _ = read_recipients(path)
    assert stream.layout.delimiter == "\t"
    assert [(r.email, r.fields) for r in stream] == [("ann@example.com", {"first_name": "Ann"})]


def test_utf16_with_bom_as_excel_writes_it(tmp_path: Path) -> None:
    text = "email\tfirst_name\r\nzoë@example.com\tZoë\r\n"
    path = _write(tmp_path, codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    stream, problems = read_recipients(path)
    assert [(r.email, r.fields["first_name"]) for r in stream] == [("zoë@example.com", "Zoë")]
    assert problems == []


def test_cp1252_file_is_read_with_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path, "email,first_name\nrene@example.com,René\n".encode("cp1252"))
    stream, _ = read_recipients(path)
    assert [r.fields["first_name"] for r in stream] == ["René"]
    assert any("Windows-1252" in w for w in stream.layout.warnings)


def test_missing_email_column_is_a_clear_error(fixtures: Path) -> None:
    with pytest.raises(RecipientsError) as info:
        read_recipients(fixtures / "deliver" / "no_email_column.csv")
    assert "no `email` column" in info.value.message
    assert "'name', 'address'" in info.value.message


def test_headerless_file_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path, b"ann@example.com,Ann\nbob@example.com,Bob\n")
    with pytest.raises(RecipientsError, match="line 1 is an address, not a header"):
        read_recipients(path)


@pytest.mark.parametrize("data,needle", [(b"", "empty"), (b"\n\n", "empty"), (b"\x00\x01\x02binary", "binary")])
def test_empty_and_binary_files(tmp_path: Path, data: bytes, needle: str) -> None:
    with pytest.raises(RecipientsError, match=needle):
        read_recipients(_write(tmp_path, data))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecipientsError, match="not found"):
        read_recipients(tmp_path / "nope.csv")


def test_bad_rows_are_reported_with_line_numbers_and_the_rest_flows(fixtures: Path) -> None:
    stream, problems = read_recipients(fixtures / "deliver" / "messy.csv")
    got = list(stream)
    assert [r.email for r in got] == ["ann@example.com", "carl@example.org", "dana@example.org",
                                      "frank@example.com", "gina@example.org"]
    assert [r.line for r in got] == [2, 5, 7, 10, 12]
    by_line = {p.line: p for p in problems}
    assert sorted(by_line) == [3, 4, 8, 9]
    assert by_line[3].kind == "invalid" and by_line[3].email == "not-an-address"
    assert "@-sign" in by_line[3].reason
    assert by_line[4].kind == "duplicate" and by_line[4].email == "ANN@example.com"
    assert by_line[8].kind == "invalid" and "no address" in by_line[8].reason
    assert by_line[9].kind == "invalid" and by_line[9].email == "eve@@example.com"
    assert str(by_line[3]).startswith("line 3: 'not-an-address'")
    assert stream.rows == 9 and stream.valid == 5  # the ',,' row holds nothing


def test_crlf_in_values_is_cleaned(fixtures: Path) -> None:
    stream, _ = read_recipients(fixtures / "deliver" / "messy.csv")
    carl = next(r for r in stream if r.email.startswith("carl"))
    assert carl.fields["first_name"] == "Carl Injected"
    assert clean_value("a\r\nBcc: x@y.com") == "a Bcc: x@y.com"
    assert clean_value(" tab\there\x00 ") == "tab here"


def test_duplicates_compare_without_case(tmp_path: Path) -> None:
    path = _write(tmp_path, b"email\nA@Example.com\na@example.COM\nb@example.com\nA@EXAMPLE.com\n")
    stream, problems = read_recipients(path)
    assert [r.email for r in stream] == ["A@example.com", "b@example.com"]
    assert [(p.line, p.kind) for p in problems] == [(3, "duplicate"), (5, "duplicate")]


def test_invalid_utf8_row_is_reported_not_fatal(tmp_path: Path) -> None:
    # The start of the file is UTF-8 (so it is read as UTF-8); the stray bytes come after the sniffed part.
    filler = b"".join(f"u{i}@example.com,Name{i}\n".encode() for i in range(4000))
    path = _write(tmp_path, b"email,first_name\n" + filler + b"bob@example.com,B\xffb\nx\xfe@example.com,X\n"
                  b"cy@example.com,Cy\n")
    stream, problems = read_recipients(path)
    assert [r.email for r in stream][-1:] == ["cy@example.com"]
    assert stream.valid == 4001
    assert [(p.line, p.kind) for p in problems] == [(4002, "bad_row"), (4003, "invalid")]
    assert "UTF-8" in problems[0].reason


def test_stream_is_lazy(tmp_path: Path) -> None:
    path = _write(tmp_path, b"email\n" + b"".join(f"u{i}@example.com\n".encode() for i in range(5000)))
    stream, _ = read_recipients(path)
    first = next(stream)
    assert first.email == "u0@example.com" and stream.rows == 1  # one row read, not the whole file
    assert count_rows(path) == 5000


def test_field_names() -> None:
    assert field_name("First Name") == "first_name"
    assert field_name(" e-Mail-Opt ") == "e_mail_opt"
    assert field_name("2nd") == "f_2nd"
    assert field_name("!!!") == ""


def test_layout_reports_unusable_and_repeated_columns(tmp_path: Path) -> None:
    layout = read_layout(_write(tmp_path, b"email,First Name,first-name,!!!\n"))
    assert [n for _, n in layout.fields] == ["first_name"]
    assert len(layout.warnings) == 2


def test_keyset_is_an_exact_set() -> None:
    """The compact set of addresses seen agrees with ``set`` on adds, look-ups and discards, prefixes and
    newlines included (a key that is a substring of another is not "seen")."""
    import random

    from digest.deliver.recipients import KeySet

    rng = random.Random(3)
    ks, ref = KeySet(), set()
    keys = [f"u{rng.randrange(30_000)}@ex.com" for _ in range(60_000)]
    keys += ["a@b.c", "xa@b.c", "a@b.co", "a@b.c\nx", "a\n@b.c", "\n"]
    for k in keys:
        assert ks.add(k) == (k not in ref), k
        ref.add(k)
    for k in ["a@b.c", "xa@b.c", "a@b.c\nx", "u1@ex.com", "u1@ex.co", "b.c", "", "\n", "a@b.c\n"]:
        assert (k in ks) == (k in ref), k
    for k in ["a@b.c", "a@b.c\nx", *keys[:50]]:
        ks.discard(k)
        ref.discard(k)
        assert k not in ks
        assert ks.add(k) and (k not in ref)
        ref.add(k)
