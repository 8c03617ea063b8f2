"""Each named cleaning rule fires on its own example and leaves ordinary prose alone."""

from __future__ import annotations

import pytest

from digest.condense.clean import clean_text

CASES = [
    ("(CNN)Rescuers reached the village on Monday.", "Rescuers reached the village on Monday.", "bureau_prefix"),
    ("New Delhi, India (CNN)As the ground shook, people ran outside.", "As the ground shook, people ran outside.",
     "bureau_prefix"),
    ("LONDON (Reuters) - Shares fell sharply on Monday.", "Shares fell sharply on Monday.", "bureau_prefix"),
    ("WASHINGTON — The senator said no to the plan.", "The senator said no to the plan.", "dateline"),
    ("By . Jo Bloggs . PUBLISHED: . 10:21 EST, 1 May 2013 . | . UPDATED: . 11:02 EST, 1 May 2013 . A man was held.",
     "A man was held.", "published_updated"),
    ("Share this withEmailFacebookTwitterCopy this linkThe river burst its banks.", "The river burst its banks.",
     "share_widget"),
    ("Scroll down for video A dog rescued its owner from the mud.", "A dog rescued its owner from the mud.",
     "scroll_down"),
    ("Wind farms grew fast last year ending a long slump The industry added 20 new sites in the north.",
     "The industry added 20 new sites in the north.", "caption_runin"),
    ("The mayor opened the bridge. (Photo: Jane Roe/City Press)", "The mayor opened the bridge.", "photo_credit"),
    ("The plan was approved. Read more: What the plan means for you", "The plan was approved.", "read_more_tail"),
    ("Last updated at 09:22 GMTThe match ended in a draw.", "The match ended in a draw.", "published_updated"),
]


@pytest.mark.parametrize(("raw", "expected", "rule"), CASES)
def test_inline_rules(raw: str, expected: str, rule: str) -> None:
    c = clean_text(raw)
    assert c.text == expected
    assert rule in {r.rule for r in c.removed}


LINE_CASES = [
    ("Advertisement", "advertisement"),
    ("Story continues below advertisement", "advertisement"),
    ("Read more: Ten things we learned", "read_more"),
    ("Related: Rents rise again", "read_more"),
    ("Share on Facebook", "share"),
    ("Help us grow. Support The Example on Patreon!", "subscribe_plea"),
    ("Sign up for our morning newsletter", "subscribe_plea"),
    ("The views and opinions expressed here are solely those of the author.", "disclaimer"),
    ("© 2020 Example Media. All rights reserved.", "copyright"),
    ("We use cookies to give you the best experience on our site.", "cookie_notice"),
    ("Image caption The bridge at dawn", "caption"),
    ("A crowd at the gate. Photograph: Jane Roe for the Example", "caption"),
    ("By Jane Roe and John Doe", "byline"),
    ("12 May 2021", "timestamp"),
    ("Published: 12 May 2021 10:22 BST", "timestamp"),
]


@pytest.mark.parametrize(("line", "rule"), LINE_CASES)
def test_line_rules_drop_the_paragraph(line: str, rule: str) -> None:
    body = "The council met on Tuesday and agreed a budget for the coming year after a long debate."
    c = clean_text(f"{body}\n\n{line}\n\n{body}")
    assert line not in c.text
    assert c.text.count(body) == 2
    assert [r.rule for r in c.removed] == [rule]


@pytest.mark.parametrize("tail", ["View all comments", "Leave a comment", "12 comments", "Related articles",
                                  "You may also like", "Most popular"])
def test_tail_rules_drop_everything_after(tail: str) -> None:
    body = "The council met on Tuesday and agreed a budget for the coming year after a long debate."
    c = clean_text(f"{body}\n\nWhat do you think?\n\n{tail}\n\nSome other headline entirely\n\nA reader wrote this.")
    assert c.text == body
    assert {r.rule for r in c.removed} <= {"comment_widget", "related_block"}


@pytest.mark.parametrize("prose", [
    "Published in 2010, the book sold more than a million copies in its first year.",
    "The newsletter, which the group started in 2015, now reaches readers in forty countries across Europe.",
    "By the end of the day, the river had risen by two metres and the roads were closed.",
    "The company said it would support the plan, which it called a sensible compromise for everyone involved.",
    "Shares in the Example Group fell 3% after the announcement on Tuesday.",
    # a notice named in prose is not a notice: the licences sit between copyright and the public domain
    "Open licences sit between classic copyright (all rights reserved) and the public domain, its author says.",
])
def test_prose_is_not_removed(prose: str) -> None:
    c = clean_text(prose)
    assert c.text == prose and c.removed == []


def test_removed_offsets_point_into_the_original() -> None:
    raw = "Intro line that is long enough to be prose and has a full stop.\n\nAdvertisement\n\nMore prose follows."
    c = clean_text(raw)
    (r,) = c.removed
    assert raw[r.start:r.end] == "Advertisement"
