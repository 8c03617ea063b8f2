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


@pytest.mark.parametrize("data,needle", [(b"", "the recipients file is empty"),
                                         (b"\n\n", "the recipients file is empty"),
                                         (b"\x00\x01\x02binary", "not a text CSV file"),
                                         (b"\nemail\n", r"no `email` column .*\(columns: \(none\)\)")])
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
    assert field_name("First - Name") == "first_name" and field_name("a_-_b") == "a___b"
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


# --- rows of every shape: each either reaches the send or is reported, never lost, never fatal -------------


def _read(path: Path) -> tuple[list[tuple[int, str, dict[str, str]]], list[tuple[int, str, str]]]:
    stream, problems = read_recipients(path)
    got = [(r.line, r.email, r.fields) for r in stream]
    return got, [(p.line, p.kind, p.email) for p in problems]


@pytest.mark.parametrize("header", [
    "email", "Email", "EMAIL", " email ", "E-mail", "E-Mail", "e_mail", "Email Address", "email_address",
    "E-mail address", "EmailAddress", "Mail", "mail", "email_addr", "Email-Addr",
])
def test_every_documented_spelling_of_the_address_column(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path, f"First Name,{header}\nAnn,ann@example.com\n".encode())
    got, problems = _read(path)
    assert got == [(2, "ann@example.com", {"first_name": "Ann"})] and problems == []


@pytest.mark.parametrize("header", ["address", "e-mails", "mailbox", "emailaddress2", "name"])
def test_a_column_that_is_not_the_address_is_not_taken_for_it(tmp_path: Path, header: str) -> None:
    with pytest.raises(RecipientsError, match="no `email` column"):
        read_recipients(_write(tmp_path, f"{header},city\nann@example.com,Oslo\n".encode()))


def test_short_rows_get_empty_fields_and_a_row_without_its_address_cell_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, b"first_name,email,city\n"
                  b"Ann,ann@example.com,Oslo\n"
                  b"Bob,bob@example.com\n"       # no city cell
                  b"Cy\n"                        # no address cell at all
                  b"Di,di@example.com,Bergen\n")
    got, problems = _read(path)
    assert got == [(2, "ann@example.com", {"first_name": "Ann", "city": "Oslo"}),
                   (3, "bob@example.com", {"first_name": "Bob", "city": ""}),
                   (5, "di@example.com", {"first_name": "Di", "city": "Bergen"})]
    assert problems == [(4, "invalid", "")]
    stream, found = read_recipients(path)
    list(stream)
    assert found[0].reason == "no address in the email column"


def test_blank_lines_and_empty_rows_are_not_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, b"email,name\n\n,\n  \nann@example.com,Ann\n \t ,  \n\nbo@example.com,Bo\n")
    stream, problems = read_recipients(path)
    assert stream.rows == 0 and stream.valid == 0  # nothing read yet
    assert [(r.line, r.email) for r in stream] == [(5, "ann@example.com"), (8, "bo@example.com")]
    assert problems == [] and stream.rows == 2 and stream.valid == 2
    stream, _ = read_recipients(_write(tmp_path, b"email,name\n", "header-only.csv"))
    assert list(stream) == [] and stream.rows == 0 and stream.valid == 0
    stream, _ = read_recipients(_write(tmp_path, b"email,name\nann@example.com,Ann\n,\n\n", "trailing.csv"))
    assert len(list(stream)) == 1 and stream.rows == 1  # empty rows at the end are not counted either


def test_a_row_one_cell_short_of_the_last_field(tmp_path: Path) -> None:
    path = _write(tmp_path, b"email,first_name\nann@example.com\nbo@example.com,Bo\n")
    got, problems = _read(path)
    assert got == [(2, "ann@example.com", {"first_name": ""}), (3, "bo@example.com", {"first_name": "Bo"})]
    assert problems == []


def test_long_rows_keep_the_header_s_fields_only(tmp_path: Path) -> None:
    path = _write(tmp_path, b"email,first_name\nann@example.com,Ann,extra,cells\nbo@example.com,Bo\n")
    got, problems = _read(path)
    assert got == [(2, "ann@example.com", {"first_name": "Ann"}), (3, "bo@example.com", {"first_name": "Bo"})]
    assert problems == []


def test_non_ascii_values_pass_on_every_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "email,first_name,city\n"
                  "jose@example.com,José,Málaga\n"      # a full row: nothing to clean
                  "zoe@example.com,Zoë\n"               # short: the cleaning path
                  "ana@example.com,Ana\tMaría,Łódź\n"   # a tab to clean
                  "用户@例え.jp,ユーザー,東京\n".encode())
    got, problems = _read(path)
    assert problems == []
    assert got == [(2, "jose@example.com", {"first_name": "José", "city": "Málaga"}),
                   (3, "zoe@example.com", {"first_name": "Zoë", "city": ""}),
                   (4, "ana@example.com", {"first_name": "Ana María", "city": "Łódź"}),
                   (5, "用户@例え.jp", {"first_name": "ユーザー", "city": "東京"})]


def _utf8_head(rows: int = 4000) -> bytes:
    """Enough valid UTF-8 rows that the file is read as UTF-8 (stray bytes after them are a row's problem)."""
    return b"".join(f"u{i}@example.com,Name{i}\n".encode() for i in range(rows))


def test_a_row_repaired_further_down_is_sent(tmp_path: Path) -> None:
    head = _utf8_head()
    path = _write(tmp_path, b"email,first_name\n" + head + b"bob@example.com,B\xffb\nBOB@example.com,Bob\n"
                  b"bob@example.com,Bob again\n")
    stream, problems = read_recipients(path)
    got = [(r.line, r.email, r.fields) for r in stream][-1:]
    assert got == [(4003, "BOB@example.com", {"first_name": "Bob"})]  # the corrected row, not a duplicate
    assert [(p.line, p.kind) for p in problems] == [(4002, "bad_row"), (4004, "duplicate")]
    assert problems[0].email == "bob@example.com" and "first_name" in problems[0].reason


def test_a_repaired_row_is_not_deduplicated_when_dedupe_is_off(tmp_path: Path) -> None:
    path = _write(tmp_path, b"email,first_name\n" + _utf8_head() + b"bob@example.com,B\xffb\nbob@example.com,Bob\n")
    stream, problems = read_recipients(path, dedupe=False)
    assert [(r.line, r.email) for r in stream][-1:] == [(4003, "bob@example.com")]
    assert [(p.line, p.kind) for p in problems] == [(4002, "bad_row")]


def test_an_unparseable_row_is_reported_and_the_rest_flows(tmp_path: Path) -> None:
    huge = "x" * 200_000  # beyond the csv module's field limit
    path = _write(tmp_path, f"email,note\nann@example.com,hi\nbo@example.com,{huge}\ncy@example.com,ok\n".encode())
    got, problems = _read(path)
    assert [(line, email) for line, email, _ in got] == [(2, "ann@example.com"), (4, "cy@example.com")]
    assert problems == [(3, "bad_row", "")]
    stream, found = read_recipients(path)
    list(stream)
    assert "cannot parse the row" in found[0].reason and str(found[0]).startswith("line 3: ")


def test_line_numbers_count_physical_lines_after_a_multi_line_value(tmp_path: Path) -> None:
    path = _write(tmp_path, b'email,note\nann@example.com,"two\nlines"\n\nbad-address,x\ncy@example.com,ok\n')
    got, problems = _read(path)
    assert [(line, email) for line, email, _ in got] == [(2, "ann@example.com"), (6, "cy@example.com")]
    assert problems == [(5, "invalid", "bad-address")]
    assert got[0][2] == {"note": "two lines"}


def test_big_lists_dedupe_exactly(tmp_path: Path) -> None:
    """50,000 addresses with a duplicate of every tenth: each duplicate reported once, nothing else."""
    n = 50_000
    lines = [f"user{i}@example.org" for i in range(n)] + [f"USER{i}@example.org" for i in range(0, n, 10)]
    path = _write(tmp_path, ("email\n" + "\n".join(lines) + "\n").encode())
    stream, problems = read_recipients(path)
    assert sum(1 for _ in stream) == n
    assert len(problems) == n // 10 and {p.kind for p in problems} == {"duplicate"}
    assert problems[0].line == n + 2 and problems[-1].line == n + n // 10 + 1


def test_keyset_spreads_a_big_list_over_its_buckets() -> None:
    """The compact set stays a hash table on a big list: no bucket grows long (a long bucket is a linear
    search per address: quadratic over the list)."""
    from digest.deliver.recipients import KeySet

    ks = KeySet()
    for i in range(300_000):
        assert ks.add(f"person{i}@example.net")
    assert all(f"person{i}@example.net" in ks for i in range(0, 300_000, 7))
    assert max(blob.count("\n") for blob in ks._buckets) < 40


def test_what_the_editor_is_told_about_the_file(tmp_path: Path) -> None:
    from digest.deliver.recipients import describe_layout

    layout = read_layout(_write(tmp_path, b"Name;E-mail;City\nAnn;ann@example.com;Oslo\n", "list.csv"))
    assert describe_layout(layout) == ("list.csv: semicolon-separated, utf-8, address column 'E-mail', "
                                       "merge fields: name, city")
    layout = read_layout(_write(tmp_path, b"email\tEmail Address\nann@example.com\tx\n", "two.csv"))
    assert layout.email_index == 0 and layout.fields == []
    assert layout.warnings == ["several address columns; using column 1 ('email')"]
    assert describe_layout(layout) == "two.csv: tab-separated, utf-8, address column 'email', merge fields: none"


def test_a_utf8_character_cut_by_the_sniffed_sample_is_still_utf8(tmp_path: Path) -> None:
    from digest.deliver.recipients import _SNIFF_BYTES

    header = b"email,name\n"
    row = "zoë@example.com,Zoë\n".encode()
    body = header + b"a@example.com," + b"x" * (_SNIFF_BYTES - len(header) - len(b"a@example.com,") - 2) + b"\n"
    data = body + b"\xc3\xab" * 2 + b"@example.com,y\n" + row  # the sample ends inside a two-byte character
    assert len(body) == _SNIFF_BYTES - 1
    stream, problems = read_recipients(_write(tmp_path, data))
    assert stream.layout.encoding == "utf-8" and stream.layout.warnings == []
    assert [r.email for r in stream] == ["a@example.com", "ëë@example.com", "zoë@example.com"] and problems == []


def test_count_rows_estimates_from_lines(tmp_path: Path) -> None:
    assert count_rows(_write(tmp_path, b"email\na@x.io\nb@x.io", "no-newline.csv")) == 2
    assert count_rows(_write(tmp_path, b"email\na@x.io\nb@x.io\n", "newline.csv")) == 2
    assert count_rows(_write(tmp_path, b"email\n", "header.csv")) == 0
    big = b"email\n" + b"someone@example.com\n" * 120_000  # more than one read of 1 MiB
    assert count_rows(_write(tmp_path, big, "big.csv")) == 120_000


def test_iter_addresses_lists_every_address_cell_unvalidated(tmp_path: Path) -> None:
    from digest.deliver.recipients import iter_addresses

    path = _write(tmp_path, b'name,email\nAnn, ann@example.com \nBo\nCy,\n"Di\nDa",not-an-address\nEd,ed@x.io\n')
    assert list(iter_addresses(path)) == [(2, "ann@example.com"), (5, "not-an-address"), (7, "ed@x.io")]


def test_a_row_problem_reads_as_one_line() -> None:
    from digest.deliver.recipients import RowProblem

    assert str(RowProblem(7, "x@@y", "invalid", "bad")) == "line 7: 'x@@y' bad"
    assert str(RowProblem(8, "", "invalid", "no address in the email column")) == (
        "line 8: no address in the email column")


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_a_four_byte_character_cut_by_the_sample_is_still_utf8(tmp_path: Path, cut: int) -> None:
    from digest.deliver.recipients import _SNIFF_BYTES

    emoji = "😀".encode()  # four bytes
    head = b"email,note\na@example.com,"
    body = head + b"x" * (_SNIFF_BYTES - len(head) - cut) + emoji + b"\nb@example.com,ok\n"
    stream, problems = read_recipients(_write(tmp_path, body))
    assert stream.layout.encoding == "utf-8" and stream.layout.warnings == []
    got = list(stream)
    assert [r.email for r in got] == ["a@example.com", "b@example.com"] and got[0].fields["note"].endswith("😀")
    # The same bytes wrong by one (a stray byte 4 before the sample's end): not UTF-8.
    bad = head + b"x" * (_SNIFF_BYTES - len(head) - 4) + b"\xff" + b"xxx\nb@example.com,ok\n"
    assert read_recipients(_write(tmp_path, bad, "bad.csv"))[0].layout.encoding == "cp1252"


def test_a_bom_is_never_part_of_the_first_column(tmp_path: Path) -> None:
    for data in (codecs.BOM_UTF8 + b"email\nann@example.com\n",
                 codecs.BOM_UTF16_LE + "email\r\nann@example.com\r\n".encode("utf-16-le"),
                 codecs.BOM_UTF16_BE + "email\r\nann@example.com\r\n".encode("utf-16-be")):
        layout = read_layout(_write(tmp_path, data))
        assert layout.columns == ["email"], data[:4]


def test_files_that_cannot_be_read_say_why(tmp_path: Path) -> None:
    with pytest.raises(RecipientsError, match="is a folder, not a recipients CSV file"):
        read_recipients(tmp_path)
    path = _write(tmp_path, b"email\nann@example.com\n")
    stream, _ = read_recipients(path)
    path.unlink()  # gone between reading the header and sending
    with pytest.raises(RecipientsError, match="cannot read the recipients file"):
        list(stream)


def test_a_headerless_semicolon_file_and_a_semicolon_header_without_email(tmp_path: Path) -> None:
    with pytest.raises(RecipientsError, match="line 1 is an address, not a header"):
        read_recipients(_write(tmp_path, b'"ann@example.com";Ann\nbo@example.com;Bo\n'))
    with pytest.raises(RecipientsError, match="line 1 is an address, not a header"):
        read_recipients(_write(tmp_path, b'Ann\tann@example.com\n', "tab.csv"))  # wherever the address is

    with pytest.raises(RecipientsError, match=r"no `email` column .*\(columns: 'name', 'address', 'city'\)"):
        read_recipients(_write(tmp_path, b"name;address;city\nAnn;ann@example.com;Oslo\n"))


def test_the_comma_layout_line(tmp_path: Path) -> None:
    from digest.deliver.recipients import describe_layout

    layout = read_layout(_write(tmp_path, b"email,first_name\nann@example.com,Ann\n", "c.csv"))
    assert describe_layout(layout) == "c.csv: comma-separated, utf-8, address column 'email', merge fields: first_name"


def test_a_wide_header_without_email_shows_its_first_twelve_columns(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(1, 15))
    with pytest.raises(RecipientsError) as info:
        read_recipients(_write(tmp_path, f"{header}\nx\n".encode()))
    assert "'c12')" in info.value.message and "'c13'" not in info.value.message


def test_iter_addresses_reads_past_bytes_that_do_not_decode(tmp_path: Path) -> None:
    from digest.deliver.recipients import iter_addresses

    path = _write(tmp_path, b"email,first_name\n" + _utf8_head() + b"bob@example.com,B\xffb\nx\xfe@example.com,X\n")
    got = list(iter_addresses(path))
    assert len(got) == 4002 and got[-2:] == [(4002, "bob@example.com"), (4003, "x\ufffd@example.com")]


def test_a_row_with_several_undecodable_values_names_the_first(tmp_path: Path) -> None:
    path = _write(tmp_path, b"email,first_name,city\n" + _utf8_head() + b"bob@example.com,B\xffb,Os\xfelo\n")
    stream, problems = read_recipients(path)
    assert sum(1 for _ in stream) == 4000
    assert [(p.line, p.kind, p.reason) for p in problems] == [
        (4002, "bad_row", "the first_name value is not valid UTF-8 text")]
