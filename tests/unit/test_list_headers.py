"""Headers holding <URL> items are written as is: folded only at the comma between items, never encoded."""

from __future__ import annotations

import pytest

from digest.compose.check import raw_header
from digest.compose.message import fold_list_header, list_unsubscribe
from digest.errors import DigestError

LONG = "https://news.example.org/unsubscribe?t=" + "A" * 120


def test_a_long_item_stays_whole_on_its_line() -> None:
    out = fold_list_header("List-Unsubscribe", f"<{LONG}>, <mailto:u@example.org>")
    assert out == f"List-Unsubscribe: <{LONG}>,\r\n <mailto:u@example.org>\r\n"


def test_short_items_share_a_line() -> None:
    out = fold_list_header("List-Unsubscribe", "<https://a.example/u>, <mailto:u@example.org>")
    assert out == "List-Unsubscribe: <https://a.example/u>, <mailto:u@example.org>\r\n"


def test_an_item_too_long_for_998_octets_is_refused() -> None:
    with pytest.raises(DigestError, match="998"):
        list_unsubscribe("https://e.example/u?t=" + "A" * 980, None)
    with pytest.raises(DigestError, match="998"):
        fold_list_header("List-Unsubscribe", "<https://e.example/u?t=" + "A" * 980 + ">")


def test_line_breaks_and_non_ascii_are_refused() -> None:
    with pytest.raises(DigestError):
        fold_list_header("List-Unsubscribe", "<https://e.example/u>\r\nBcc: x@example.org")
    with pytest.raises(DigestError):
        fold_list_header("List-Unsubscribe", "<https://é.example/u>")


def test_raw_header_reads_continuation_lines_only() -> None:
    eml = b"To: a@example.org\r\nList-Unsubscribe: <x>,\r\n <y>\r\nSubject: s\r\n\r\nList-Unsubscribe: body\r\n"
    assert raw_header(eml, "list-unsubscribe") == [b"List-Unsubscribe: <x>,", b" <y>"]
    assert raw_header(eml, "Cc") == []


def test_a_list_id_that_cannot_be_a_header_is_refused_by_name() -> None:
    from digest.compose.message import list_id_for
    from digest.config import Settings
    from digest.errors import ConfigError

    s = Settings()
    s.data["newsletter"]["list_id"] = "vallée weekly.example.org"
    with pytest.raises(ConfigError, match="newsletter.list_id"):
        list_id_for(s)
    s.data["newsletter"]["list_id"] = "<valley-weekly.example.org>"
    assert list_id_for(s) == "valley-weekly.example.org"
