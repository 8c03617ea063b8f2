"""Issue 18, round 7: what a blind editor flagged on more unseen pages (trafilatura's evaluation pages), fixed by
general rules. The articles are written here."""

from __future__ import annotations

from digest.condense import make_teaser
from digest.condense.sentences import split_sentences
from digest.model import Article


def _teaser(text: str, budget: int = 300, lang: str | None = None) -> str:
    return make_teaser(Article(title="", kind="text", source="t.txt", text=text, lang=lang), budget).text


# --- emoji after a sentence's stop ----------------------------------------------------------------------------------

def test_emoji_after_a_stop_end_the_sentence_and_stay_out_of_it() -> None:
    text = "Summer is finally here!  🌞 The council voted. Great news 🎉 for all. Done! 👍🏽 Next one. Ok. 🎉🎉"
    assert split_sentences(text) == ["Summer is finally here!", "The council voted.", "Great news 🎉 for all.",
                                     "Done!", "Next one.", "Ok."]


def test_a_lede_whose_sentences_end_in_emoji_is_still_the_lede() -> None:
    text = ("The city council voted on Tuesday to open all twelve public pools two weeks early, after a petition "
            "signed by 4,000 residents! 🎉 The pools will stay open until 9 pm on weekdays. 🌞\n\n"
            "Lifeguard pay rises by 8 percent to fill the 60 open posts.")
    t = _teaser(text, 300, "en")
    assert t.startswith("The city council voted on Tuesday")
    assert "🎉" not in t and "🌞" not in t and t.endswith(".")
