"""Issue 18, round 6: what a blind editor flagged on unseen articles (reviews, columns, wire copy, Russian and
Italian pages), fixed by general rules: sentences in any script, pronoun lists only in their own language, a lede
that opens with "Another …", a short hook sentence, a "But" that answers the sentence before it, and a cut that
keeps the news. The articles are written here."""

from __future__ import annotations

from digest.condense import make_teaser
from digest.condense.pack import shorten
from digest.condense.sentences import split_sentences
from digest.model import Article


def _teaser(text: str, budget: int = 300, lang: str | None = None) -> str:
    return make_teaser(Article(title="", kind="text", source="t.txt", text=text, lang=lang), budget).text


# --- sentences in any script ------------------------------------------------------------------------------------

def test_cyrillic_and_greek_sentences_are_split_at_their_full_stops() -> None:
    ru = "Вчера в Казани открыли новый мост через реку. Тогда мэр города выступил с короткой речью. Всё."
    assert split_sentences(ru, "ru") == ["Вчера в Казани открыли новый мост через реку.",
                                         "Тогда мэр города выступил с короткой речью.", "Всё."]
    el = "Το λιμάνι έκλεισε χθες το βράδυ. Η κυβέρνηση ανακοίνωσε νέα μέτρα."
    assert len(split_sentences(el)) == 2


def test_a_russian_teaser_ends_on_a_full_sentence_not_a_cut_fragment() -> None:
    text = ("В восьмидесятых годах молодая художница из Брно прославилась на всю Европу своими плакатами. "
            "Тогда трудно было найти город, где не висели бы её работы. Затем она занялась кино и театром. "
            "В интервью она рассказала, что до сих пор рисует каждое утро по три часа, не пропуская ни одного дня, "
            "даже в праздники и в дороге.")
    t = _teaser(text, 200, "ru")
    assert t.endswith(".") and not t.endswith("…")
    assert t.startswith("В восьмидесятых годах")


# --- pronouns of the text's own language --------------------------------------------------------------------------

def test_an_italian_lede_that_opens_with_the_article_il_is_the_lede() -> None:
    text = ("Il consiglio comunale di Bologna ha approvato ieri sera il nuovo piano per il traffico del centro.\n"
            "Si tratta di una misura attesa da anni dai residenti e dai commercianti della zona universitaria.")
    assert _teaser(text, 300, "it").startswith("Il consiglio comunale di Bologna")


def test_a_french_lede_that_opens_with_il_still_points_back() -> None:
    text = ("Il a démissionné mardi soir après trois semaines de polémique sur ses notes de frais à la mairie.\n"
            "Le maire de Lyon, Paul Martin, a annoncé sa démission lors d'une conférence de presse à l'hôtel de ville.")
    assert _teaser(text, 300, "fr").startswith("Le maire de Lyon")


# --- "Another …" and short hooks as the text's first sentence ---------------------------------------------------

def test_a_first_sentence_that_opens_with_another_is_the_lede() -> None:
    text = ("Another heatwave is set to hit southern Spain this weekend, with forecasters warning of temperatures "
            "above 44C in Seville and Cordoba.\n"
            "The national weather agency issued red alerts for four provinces on Thursday.")
    assert _teaser(text).startswith("Another heatwave is set to hit southern Spain")


def test_another_later_in_the_text_still_cannot_open() -> None:
    text = ("Storms closed three motorways in the north of England on Tuesday, stranding hundreds of drivers.\n"
            "Another storm is expected on Friday.\n")
    assert _teaser(text, 110).startswith("Storms closed three motorways")


def test_a_short_hook_on_the_storys_topic_opens_with_what_follows_it() -> None:
    text = ("Lisbon is flooding. Emergency crews worked through the night to pump water out of the lower town. "
            "On Monday, record rain swept across Lisbon and the coast, closing schools and two metro lines.")
    t = _teaser(text)
    assert t.startswith("Lisbon is flooding. Emergency crews worked through the night")


def test_a_short_first_line_off_the_topic_is_not_a_hook() -> None:
    text = ("Wait 1 second to continue. Gunmen opened fire on tourists outside a museum in the capital on "
            "Wednesday, killing at least nine people, officials said. The attack was the deadliest in a decade.")
    assert _teaser(text).startswith("Gunmen opened fire on tourists")


# --- a connective that answers the sentence before it -------------------------------------------------------------

FIRST = "Shares of the furniture chain fell sharply on Tuesday after it cut its full-year sales forecast."
SECOND = "But analysts said the lower forecast was no threat to the wider market."


def test_but_stays_when_its_sentence_follows_the_one_it_answers() -> None:
    assert _teaser(f"{FIRST} {SECOND}") == f"{FIRST} {SECOND}"


def test_but_goes_when_its_sentence_opens_the_teaser() -> None:
    assert _teaser(f"{SECOND}\nThe chain will publish its results next month, the company said.").startswith(
        "Analysts said the lower forecast")


def test_but_goes_when_keeping_it_would_not_fit() -> None:
    budget = len(FIRST) + 1 + len(SECOND) - 4  # room for the sentence without its "But "
    assert _teaser(f"{FIRST} {SECOND}", budget) == f"{FIRST} {SECOND[4].upper()}{SECOND[5:]}"


# --- a cut that keeps the news ----------------------------------------------------------------------------------

def test_a_sentence_with_only_an_early_comma_is_cut_near_the_budget_not_at_the_comma() -> None:
    long = ("In a statement published on Friday, the transport ministries of both countries accused the operator "
            "of the cross-border railway of hiding safety reports about the tunnel from inspectors for more than "
            "three years before the fire that closed the line for the whole summer season.")
    cut = shorten(long, 200)
    assert cut.endswith("…") and len(cut) <= 200
    assert len(cut) > 150 and "accused the operator" in cut
    assert shorten("Bad news, everyone: " + long, 30).endswith("…")


# --- a follow-on that points back keeps its antecedent ------------------------------------------------------------

def test_a_sentence_that_the_next_points_back_to_is_not_compressed_to_make_room() -> None:
    lede = ("A second case of measles was confirmed in the county on Sunday — after two pupils at the same school "
            "were diagnosed with mumps last week.")
    both = "Both diseases spread through coughs and sneezes and can be prevented by the MMR vaccine."
    t = _teaser(f"{lede} {both} Health officials said no other cases had been reported so far this month.",
                len(lede) + len(both) + 1 + 40)
    assert "— after two pupils" in t or "Both diseases" not in t


# --- a place before the first sentence (wire copy in mixed case) ---------------------------------------------------

def test_a_mixed_case_place_dateline_before_the_first_sentence_is_removed() -> None:
    body = ("Several hundred nurses marched on the state capitol on Monday to demand safer staffing levels and "
            "better pay, closing two hospital wings for the day.")
    for place in ("Sacramento – ", "Fresno, Calif. — ", "Austin, TX – ", "Boise, ID, United States: ", "LAGOS: "):
        assert _teaser(place + body) == body, place


def test_a_label_or_a_name_with_an_aside_is_not_a_dateline() -> None:
    label = ("Summary: Riverside junior Ana Costa won the state title in the 200 yard freestyle with a time of "
             "1:52.10 on Saturday.")
    # not a place: nothing of the sentence goes with it (round 8 removes the label itself, and only the label)
    assert _teaser(label).startswith("Riverside junior Ana Costa won the state title")
    aside = ("Okafor — the club's record signing — scored twice on Sunday as the leaders beat Rovers to go three "
             "points clear at the top of the table.")
    assert _teaser(aside).startswith("Okafor — the club's record signing — scored twice")


# --- pronouns resolved inside the lede, or not at all --------------------------------------------------------------

def test_a_possessive_whose_owner_is_named_after_the_comma_may_open() -> None:
    text = ("Their savings gone and their visas cancelled, nearly 90 students flew home to Lagos on Friday after "
            "their college in Ohio closed without warning.\n"
            "As they left the airport, several said they would sue the college's owners.")
    assert _teaser(text).startswith("Their savings gone and their visas cancelled, nearly 90 students flew home")


def test_a_lede_that_opens_as_they_or_when_he_points_back() -> None:
    text = ("As they left the courtroom, the two men refused to answer questions from reporters.\n"
            "Two former bank managers were jailed for six years on Thursday for stealing £4m from elderly "
            "customers in Leeds.")
    assert _teaser(text, 120).startswith("Two former bank managers were jailed")


# --- speech that runs on from a quote opened in the sentence before ------------------------------------------------

def test_a_sentence_inside_a_quotation_opened_before_it_is_not_narration() -> None:
    text = ("Oregon Gov. Maria Lopez (D) is defending the state’s launch of a recycling campaign with the slogan "
            "“Sort it, we’re on it.”\n\n"
            "The slogan drew a mix of criticism and ridicule across social media on Monday, but Lopez cited the "
            "backlash as proof that efforts to raise awareness around Oregon's landfill crisis were, in fact, "
            "working.\n\n"
            "“Waste is IN Oregon. People can make a joke of it, but when it comes down to it - waste is a serious "
            "problem in Oregon. And we need everyone's help to sort it out,” she wrote.\n")
    t = _teaser(text)
    assert t.startswith("Oregon Gov. Maria Lopez (D) is defending")
    assert "People can make a joke of it" not in t  # her words, though nothing in the sentence says so


def test_a_short_quotation_inside_a_sentence_does_not_end_it() -> None:
    lede = ("Ohio's new “Drive. Then text.” road safety campaign has drawn mockery online since Monday, but the "
            "agency behind it says that is the point.")
    assert split_sentences(lede) == [lede]
    assert _teaser(lede + " Officials declined to say how much it cost.").startswith("Ohio's new “Drive. Then text.”")
    # a quotation that ends its sentence still splits as before
    assert split_sentences("He said: “I was there. It was awful.” Then he left.") == [
        "He said: “I was there.", "It was awful.”", "Then he left."]


def test_a_german_date_range_is_not_a_sentence_end() -> None:
    assert split_sentences("Am 12. Bis 13. September findet die Messe in Köln statt.", "de") == [
        "Am 12. Bis 13. September findet die Messe in Köln statt."]


def test_german_max_and_bspw_are_abbreviations_but_english_mind_and_max_end_sentences() -> None:
    assert split_sentences("Das Haus bietet Platz für bis zu max. 6 Personen. Es hat zwei Zimmer.", "de") == [
        "Das Haus bietet Platz für bis zu max. 6 Personen.", "Es hat zwei Zimmer."]
    assert split_sentences("Viele Tiere, bspw. Füchse, leben hier. Das ist gut.", "de")[0] == \
        "Viele Tiere, bspw. Füchse, leben hier."
    assert split_sentences("Keep that in mind. The vote is on Monday. I met Max. He was late.") == [
        "Keep that in mind.", "The vote is on Monday.", "I met Max.", "He was late."]
