"""Tabloid photo captions run into the text, unquoted speech, and a missing space after a year."""

from __future__ import annotations

from digest.condense.clean import clean_text
from digest.condense.select import build_candidates, unquoted_first_person
from digest.condense.sentences import split_sentences

LEAD = "The council approved the new harbour wall after a long and heated debate on Monday night."


def test_two_captions_run_into_a_sentence_are_both_removed() -> None:
    raw = (f"{LEAD} Happy days: The ferry sails past the old lighthouse on a bright spring morning "
           "The harbour master stands beside the new crane at the quay The project will cost the town "
           "four million pounds over three years.")
    c = clean_text(raw)
    assert c.text.endswith(" The project will cost the town four million pounds over three years.")
    assert "lighthouse" not in c.text and "crane" not in c.text
    assert [r.rule for r in c.removed] == ["caption_runin", "caption_runin"]


def test_caption_ending_in_a_closing_quote_is_removed() -> None:
    raw = (f"{LEAD} Fighter ace: the pilot's story is to be told in a film dubbed ‘The Long Walk’ "
           "The story of how he learned to fly again is remarkable enough.")
    c = clean_text(raw)
    assert c.text == f"{LEAD} The story of how he learned to fly again is remarkable enough."


def test_a_name_after_a_verb_or_function_word_is_not_a_caption_boundary() -> None:
    for text in (f"{LEAD} In her lawsuit, the singer states that Ms Brown would visit the farm every summer.",
                 f"{LEAD} The measure, approved by the assembly in May, was signed into law by Mr Garcia on Friday."):
        assert clean_text(text).text == text
        assert not clean_text(text).removed


def test_a_title_after_a_verb_role_or_quote_runs_on_into_the_name() -> None:
    # each of these lost its first half to the caption rule: a verb, a role or a quotation before "Dr"/"Mr"
    for text in (f"{LEAD} Rising costs, and the failure to win a second grant, prompted Dr Okafor to close the lab.",
                 f"{LEAD} The prizes were handed out by the visiting chief fire officer Dr Lena Brandt of Leeds.",
                 f"{LEAD} “We are running out of fuel for the generators at the clinic,” Dr. Amal Haddad said.",
                 f"{LEAD} \"We checked every one of the figures against the satellite data,\" explained Ms Ortiz.",
                 f"{LEAD} She spent the summer with her aunt and her grandmother in Dublin and Mr Byrne was there.",
                 f"{LEAD} The nurse said the baby was placed by the side of Patient A and did not cry at first."):
        assert clean_text(text).text == text, text


def test_caption_boundaries_are_an_english_artefact() -> None:
    text = ("Nach Angaben der Experten stehen Lebensmittel, die Vitamin A oder C enthalten, ganz oben auf der "
            "Liste, und die Ärzte raten dazu, von A nach B zu Fuß zu gehen.")
    assert clean_text(text).text == text


def test_a_caption_before_a_name_still_goes_when_it_ends_like_one() -> None:
    raw = (f"{LEAD} Jane Doe, pictured, left the court after the hearing on Tuesday "
           "Mr Doe said he would appeal against the ruling.")
    assert clean_text(raw).text == f"{LEAD} Mr Doe said he would appeal against the ruling."


def test_unquoted_first_person_detects_speech_outside_quotes_only() -> None:
    assert unquoted_first_person("I think his passion would fit the club very well.")
    assert unquoted_first_person("It was my fault, the coach admitted after the match.")
    assert not unquoted_first_person("'I want her gone,' the girl wrote to her boyfriend that night.")
    assert not unquoted_first_person("“I am proud of my team,” the manager said on Sunday evening.")
    assert not unquoted_first_person("Imogen met the mayor at the museum in March.")


def _story(*extra: str) -> str:
    return " ".join([LEAD, "The wall will protect forty homes from winter storms and high tides.",
                     "Work on the foundations starts in the spring and should end by next autumn.", *extra])


def test_unquoted_speech_is_skipped_in_a_third_person_story() -> None:
    cands = build_candidates(_story("I could not be happier with how the vote went for the town."), "")
    speech = cands[-1]
    assert not speech.usable and "unquoted speech" in speech.why_not


def test_first_person_is_kept_in_a_first_person_piece() -> None:
    text = ("I have lived by this harbour for thirty years and I have never seen a storm like last winter's. "
            "The council approved the new wall on Monday night after a long debate. "
            "I think my neighbours will sleep better once the work is done next autumn.")
    cands = build_candidates(text, "")
    assert all(c.usable for c in cands)


def test_missing_space_after_a_year_is_a_boundary() -> None:
    assert split_sentences("He was jailed in 1993.Mrs Fergus said she was relieved by the news.") == [
        "He was jailed in 1993.", "Mrs Fergus said she was relieved by the news."]
    assert split_sentences("The firm saved 4.2bn last year.") == ["The firm saved 4.2bn last year."]


# Issue 18 round 4: a headline run into the lede without a full stop (a CNN/Daily Mail text dump).
GERMANS = ("Germans now think of themselves as the victims of Hitler and his Nazi Regime Germans no longer see the "
           "Second World War as a defeat and now think of themselves as victims of the Nazis, it has been claimed. "
           "Nearly 70 years after the end of the conflict, attitudes are reportedly changing.")


def test_a_headline_run_into_the_lede_is_removed() -> None:
    c = clean_text(GERMANS)
    assert c.text.startswith("Germans no longer see the Second World War as a defeat")
    assert [(r.rule, r.text) for r in c.removed] == [
        ("headline_runin", "Germans now think of themselves as the victims of Hitler and his Nazi Regime")]
    assert GERMANS[c.removed[0].start:c.removed[0].end] == c.removed[0].text


def test_a_headline_is_looked_for_only_in_the_first_paragraph() -> None:
    c = clean_text(f"{LEAD}\n\n{GERMANS}")
    assert "Nazi Regime Germans" in c.text and not c.removed


def test_a_sentence_that_does_not_restate_its_start_keeps_it() -> None:
    for text in ("Residents of the coastal town of Whitby Harbour Road have complained about the noise of the "
                 "new ferry terminal, the council said on Monday.",
                 "The minister for transport and the regions Tom Walker said the new harbour wall would cost "
                 "the town four million pounds over three years.",
                 "Police in the northern city of Leeds Bradford and Wakefield have arrested six men after a "
                 "series of burglaries at petrol stations."):
        assert clean_text(text).text == text
