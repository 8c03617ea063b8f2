"""Issue 18: teasers an editor publishes as they are. Lede first, openers that stand alone, follow-ons that
follow on, sentence splitting (initials, abbreviations per language), small budgets, --explain. The cases quote
the sentences named in the issue; the articles around them are written here."""

from __future__ import annotations

import pytest

from digest.condense import explain, make_teaser
from digest.condense.clean import clean_text
from digest.condense.opener import find_opener
from digest.condense.pack import fit_sentence
from digest.condense.select import build_candidates
from digest.condense.sentences import split_sentences
from digest.condense.style import style_ok
from digest.model import Article

LEDE = "A grandmother whose son died in police custody has won her case against the city council, a jury ruled."
DENSE = ("The council, which spent four million pounds defending the case over six years, said it would study the "
         "ruling and that the council's lawyers would advise councillors on an appeal next month.")


def _teaser(text: str, budget: int = 300, **kw: object) -> str:
    return make_teaser(Article(title="", kind="text", source="t.txt", text=text, **kw), budget).text  # type: ignore[arg-type]


# --- lede first -----------------------------------------------------------------------------------------------

def test_the_lede_opens_even_when_a_later_sentence_scores_higher() -> None:
    filler = " ".join(f"The council lawyers said the ruling on the council case was one for the council {w}."
                      for w in ("today", "again", "later"))
    text = f"{LEDE}\n{filler}\n{DENSE}"
    assert _teaser(text).startswith(LEDE[:-1].replace(", a jury ruled", ""))


@pytest.mark.parametrize("opener, reason", [
    ('"We will never give up," she said outside the court on Monday afternoon.', "quotation"),
    ("Mr Docherty was agitated when the jury returned to the courtroom that afternoon.", "never introduced"),
    ("Ms Watson is seen leaving the building with her lawyer after the hearing ended.", "never introduced"),
    ("The link was made even stronger when the documents were published by the court.", "points back"),
    ("That erased the council's 1994 effort to settle the claim out of court for good.", "points back"),
    ("He had waited six years for the verdict in the long-running case against the council.", "points back"),
    ("Was this the end of a six-year fight for justice against the city council?", "question"),
])
def test_an_opener_that_cannot_stand_alone_is_refused_with_its_reason(opener: str, reason: str) -> None:
    cands = build_candidates(f"{opener}\n{LEDE}", "")
    got, seen = find_opener(cands)
    assert got is not None and got.text.startswith("A grandmother")
    assert reason in seen[0][1]


def test_a_name_introduced_by_the_headline_may_open() -> None:
    cands = build_candidates("Mr Docherty was agitated when the jury returned to the courtroom that afternoon.", "")
    assert find_opener(cands, "Jury clears Jim Docherty")[0] is cands[0]


def test_a_follow_on_that_names_someone_not_introduced_is_left_out() -> None:
    text = (f"{LEDE}\nPolice had been called to the flat in 2014 after neighbours reported a disturbance there.\n"
            "Her son was taken to the station, where he collapsed in a cell within the hour.\n"
            "Jim Docherty, the duty sergeant, later told the inquest that nobody had checked on him.\n"
            "Mr Docherty was agitated when the jury returned to the courtroom that afternoon.")
    t = _teaser(text, 300)
    assert t.startswith("A grandmother") and "Mr Docherty" not in t


def test_explain_lists_each_candidate_opener_with_its_verdict() -> None:
    text = f'"We will never give up," she said outside the court.\n{LEDE}'
    out = explain(Article(title="", kind="text", source="t.txt", text=text), 300)
    assert "## Openers" in out
    assert "refused: a quotation opens it" in out
    assert "ACCEPTED: the lede" in out


# --- broken text ------------------------------------------------------------------------------------------------

def test_initials_never_end_a_sentence() -> None:
    s = split_sentences('The crash killed Buddy Holly, Ritchie Valens and J.P. "The Big Bopper" Richardson. '
                        "Snow was falling.")
    assert s[0].endswith("Richardson.") and len(s) == 2


@pytest.mark.parametrize("text, n", [
    ("Polls close on Nov. The count starts at once.", 1),  # "Nov." is an abbreviation (its day was lost)
    ("Sen. Elizabeth Warren spoke first. The vote followed.", 2),
    ("He moved to the U.S. The job was in Boston.", 2),  # a country's initials do end a sentence
])
def test_abbreviations(text: str, n: int) -> None:
    assert len(split_sentences(text)) == n


@pytest.mark.parametrize("lang, text, first", [
    ("de", "Das gilt z. B. für Berlin. Es folgt Hamburg.", "Das gilt z. B. für Berlin."),
    ("de", "Haus Nr. 5 brennt seit Stunden. Die Feuerwehr ist da.", "Haus Nr. 5 brennt seit Stunden."),
    ("de", "Er kam am 3. Oktober in Berlin an. Dann fuhr er weiter.", "Er kam am 3. Oktober in Berlin an."),
    ("fr", "M. Macron a parlé hier soir. Il est parti.", "M. Macron a parlé hier soir."),
    ("es", "El Sr. García llegó tarde. La Sra. Pérez no vino.", "El Sr. García llegó tarde."),
    ("pt", "O Sr. Silva chegou cedo. A Dra. Costa saiu.", "O Sr. Silva chegou cedo."),
])
def test_abbreviations_of_the_articles_language(lang: str, text: str, first: str) -> None:
    got = split_sentences(text, lang)
    assert got[0] == first and len(got) == 2


def test_a_language_abbreviation_that_is_an_english_word_still_ends_an_english_sentence() -> None:
    assert split_sentences("He told me. Then he left.", "en") == ["He told me.", "Then he left."]
    assert split_sentences("He told me. Then he left.") == ["He told me.", "Then he left."]


@pytest.mark.parametrize("para, kept", [
    ("The jobless rate in the region rose to 8 per cent That number could rise further next year, economists said.",
     "That number could rise further next year, economists said."),
    ("The papers were left on the glass table The High Court heard the case on Monday and ruled against him.",
     "The High Court heard the case on Monday and ruled against him."),
])
def test_a_caption_without_a_full_stop_never_merges_into_the_next_sentence(para: str, kept: str) -> None:
    assert clean_text(para).text == kept


def test_a_title_after_a_preposition_is_not_a_caption_boundary() -> None:
    para = "The documents were sent to the editor at The Guardian newspaper on Monday, the court heard."
    assert clean_text(para).text == para


@pytest.mark.parametrize("sentence, why", [
    ("By Louis Jacobson on Monday, January 5th, 2015 at 4:12 p.m. EST.", "byline"),
    ("In this Dec. 12, 2006, file photo, the former president waves to supporters in Miami.", "caption"),
    ("Top rate of income tax 6.8Increase top rate to 7.5 per cent for earners above the threshold.", "run together"),
])
def test_furniture_is_never_teaser_material(sentence: str, why: str) -> None:
    c = build_candidates(sentence, "")[0]
    assert not c.usable and why in c.why_not


# --- small budgets --------------------------------------------------------------------------------------------

GARY = ("Gary Locke will be confirmed as Kilmarnock’s permanent manager on Friday - exactly eight weeks after he "
        "was asked to take charge until the end of the season.")


@pytest.mark.parametrize("budget", [120, 150, 180, 220])
def test_small_budgets_shorten_the_lede_instead_of_dropping_it(budget: int) -> None:
    text = f"{GARY}\nAn announcement will be made by the club on Friday morning, with a three-year deal."
    t = _teaser(text, budget)
    assert t.startswith("Gary Locke will be confirmed") and style_ok(t, budget)


def test_a_trailing_clause_is_dropped_to_keep_a_whole_sentence() -> None:
    s = ("Cuadrilla, the firm behind the tests, said drilling had been suspended as a precaution after the tremor, "
         "which was the second in two months near the site in Lancashire.")
    got, how = fit_sentence(s, 120)
    assert got == "Cuadrilla, the firm behind the tests, said drilling had been suspended as a precaution after " \
        "the tremor."
    assert "trailing clause" in how


def test_without_a_clause_to_drop_the_cut_is_marked() -> None:
    s = ("Thousands of residents across the north of the county were told to boil their tap water for at least "
         "another week because the treatment works remained out of action after the floods")
    got, _ = fit_sentence(s + ".", 100)
    assert got.endswith("…") and len(got) <= 100


# --- publisher's description --------------------------------------------------------------------------------

def test_a_dek_that_rewords_the_lede_is_the_teaser() -> None:
    dek = "A grandmother has won her case against the city council over her son's death in police custody."
    t = make_teaser(Article(title="", kind="html", source="t.html", text=f"{LEDE}\n{DENSE}", description=dek), 300)
    assert t.method == "description" and t.text == dek


def test_a_site_wide_description_is_not_the_teaser() -> None:
    site = "Get the latest breaking news, sport, weather and opinion from the leading regional newsroom."
    t = make_teaser(Article(title="", kind="html", source="t.html", text=f"{LEDE}\n{DENSE}", description=site), 300)
    assert t.method != "description" and t.text.startswith("A grandmother")


def test_a_numbered_gallery_caption_is_not_teaser_material() -> None:
    c = build_candidates("Twizzlers are one of his go-to favourite snacks 2.", "")[0]
    assert not c.usable and "numbered caption" in c.why_not
    assert build_candidates("The vote was won by a margin of 312 to 12.", "")[0].usable


def test_a_text_whose_lede_was_cut_off_opens_with_its_pronoun_lede_rather_than_a_sentence_deep_in_it() -> None:
    text = ("She stressed that to kill a police officer was to attack the basis of our society.\n"
            "Mrs May also said police officers must end frivolous accident claims and raise public trust.\n"
            "Earlier the Police Federation urged her not to base legislation on a handful of officers.\n"
            "Unveiling plans at the Police Federation conference, Mrs May announced a whole-life term for "
            "killing an officer.")
    t = make_teaser(Article(title="", kind="text", source="t.txt", text=text), 300)
    # in order: "Mrs May" follows on, as it names the "she" of the lede; no jump to the fourth sentence
    assert t.text.startswith("She stressed that to kill a police officer was to attack the basis of our society. "
                             "Mrs May also said police officers must end")
    assert "Unveiling" not in t.text
    assert "ACCEPTED: opens although it starts with a pronoun" in explain(
        Article(title="", kind="text", source="t.txt", text=text), 300)


def test_a_text_whose_lede_was_cut_off_opens_with_the_first_sentence_refused_only_for_a_name() -> None:
    text = ("Mrs May also said police officers must end frivolous accident claims and raise public trust.\n"
            "Earlier the Police Federation urged her not to base legislation on a handful of officers.\n"
            "During her address, Mrs May said suing someone after a fall was not the attitude officers need.\n"
            "Her comments come after it emerged that one officer had taken legal action against a garage.\n"
            "Unveiling plans at the Police Federation conference, Mrs May announced a whole-life term for "
            "killing an officer.\n"
            "The current minimum sentence for a police murder is 30 years.")
    t = make_teaser(Article(title="", kind="text", source="t.txt", text=text), 300)
    assert t.text.startswith("Unveiling plans")
    out = explain(Article(title="", kind="text", source="t.txt", text=text), 300)
    assert "ACCEPTED: opens although" in out


@pytest.mark.parametrize("lines, joined", [
    ("The federation would no doubt toast\nMrs May if she abandoned the whole idea.",
     "The federation would no doubt toast Mrs May if she abandoned the whole idea."),
    ('A spokesman said: "The\nCriminal Justice Act 2003 permits it."',
     'A spokesman said: "The Criminal Justice Act 2003 permits it."'),
    ("The event on 27\nMay offers 46- or 95-mile routes north of Glasgow.",
     "The event on 27 May offers 46- or 95-mile routes north of Glasgow."),
])
def test_hard_wrapped_lines_are_rejoined(lines: str, joined: str) -> None:
    from digest.sources.text import unwrap

    assert unwrap(lines) == [joined]


def test_a_caption_line_before_a_sentence_about_a_named_person_stays_apart() -> None:
    from digest.sources.text import unwrap

    got = unwrap("People who never divorced earn more than a colleague\nMr Smith said the figures were clear.")
    assert len(got) == 2


# --- duplicate stories: rewrites by two outlets ------------------------------------------------------------------

FERRY_A = ("Islanders vote to save winter ferry",
           "Residents of Port Ellen have voted by a wide margin to keep the island's ferry running through the winter, "
           "ending a year of uncertainty. Argyll and Bute Council had proposed cutting the timetable to two sailings "
           "a week. Of the 1,240 people who voted, 78% backed the full service, and Caledonian MacBrayne said it "
           "would keep the MV Finlaggan on the route.")
FERRY_B = ("Port Ellen keeps its ferry after referendum",
           "A plan to cut winter sailings from Port Ellen was thrown out after 78% of voters rejected it. Argyll and "
           "Bute Council wanted just two crossings each week, but 1,240 islanders took part in the ballot. Operator "
           "Caledonian MacBrayne confirmed the MV Finlaggan stays in service from October.")
SCHOOL = ("New head teacher for Port Ellen primary",
          "Port Ellen primary school has appointed a new head teacher after a search lasting six months. Argyll and "
          "Bute Council said Morag Campbell, who taught in Bowmore for twelve years, would start after the summer "
          "holidays, when the school also opens its new library.")


def test_two_outlets_rewrites_of_one_story_are_flagged_but_not_two_stories_from_one_town() -> None:
    from digest.condense import find_duplicates
    from digest.condense.duplicates import _dot, _vectors

    a, b = _vectors([FERRY_A, FERRY_B])
    assert _dot(a, b) < 0.5  # different wording: the copy check alone misses it
    got = find_duplicates([FERRY_A, SCHOOL, FERRY_B])
    assert [(i, j) for i, j, _ in got] == [(0, 2)]


@pytest.mark.parametrize("opener, reason", [
    ("Famished and queuing as far as the eye can see, these images will have the propaganda unit spitting feathers.",
     "scene-setting"),
    ("The defender missed last Saturday's 4-1 defeat to QPR and starts a three-game ban against Leicester.",
     "points back"),
    ("Ahead of this weekend's action, Sportsmail will be providing you with all you need to know about every "
     "fixture.", "page furniture"),
    ("West Bromwich Albion vs Leicester City (The Hawthorns) Kick-off: Saturday, 3pm Venue: The Hawthorns.",
     "match-preview"),
])
def test_more_openers_an_editor_refuses(opener: str, reason: str) -> None:
    cands = build_candidates(f"{opener}\n{LEDE}", "")
    got, seen = find_opener(cands)
    assert got is not None and got.text.startswith("A grandmother")
    assert reason in seen[0][1]


@pytest.mark.parametrize("sentence, budget, want", [
    ("A man has died in a road accident in north west China - eight months after his brother was tragically "
     "killed in exactly the same spot.", 120, "A man has died in a road accident in north west China."),
    ("Russia have been awarded a 3-0 walkover victory while Montenegro have been hit with a stadium ban following "
     "the abandonment of a fraught qualifier.", 120, "Russia have been awarded a 3-0 walkover victory."),
    ("Baseball has long been considered America's favorite pastime, so it should come as no surprise that most "
     "people feel strongly about their team.", 120, "Baseball has long been considered America's favorite pastime."),
])
def test_a_subordinate_or_dashed_tail_is_dropped_to_keep_a_whole_sentence(sentence: str, budget: int,
                                                                          want: str) -> None:
    assert fit_sentence(sentence, budget)[0] == want


@pytest.mark.parametrize("sentence", [
    # the head would lack its verb (an appositive dash) or end on a time ("- eight months")
    "Birmingham academies Park View and Nansen Primary - rated inadequate by Ofsted - will have their funding "
    "agreements terminated after the inspections.",
    "The extraordinary global obsession with the Fight of the Century has reached the dizzying point where all "
    "minute aspects of the lives of both fighters are scrutinised.",
])
def test_no_whole_sentence_is_invented_when_the_head_is_not_one(sentence: str) -> None:
    got = fit_sentence(sentence, 120)[0]
    assert got.endswith("…") and len(got) <= 120


def test_a_dek_repeated_as_the_first_body_sentence_is_said_once() -> None:
    dek = "Security forces stormed the country's most prominent museum, freeing hostages and ending a siege."
    text = f"{dek}\n{dek}\nAlthough no group claimed responsibility, the attack raised fears of further violence."
    t = _teaser(text, 300)
    assert t.count("stormed") == 1 and "no group claimed" in t


def test_a_gallery_caption_and_its_labels_are_not_the_lede() -> None:
    cap = "Security forces stormed the country's most prominent museum, freeing hostages and ending a siege."
    lede = ("Gunmen opened fire on visitors at the country's most renowned museum on Wednesday, killing at least "
            "19 people.")
    text = f"{cap}\n\nCaption\n\n{cap}\n\nBuy Photo\n\n{lede}"
    cleaned = clean_text(text)
    assert cleaned.text == lede
    assert {r.rule for r in cleaned.removed} == {"caption", "gallery_label"}


def test_a_caption_before_an_age_led_sentence_is_cut() -> None:
    para = ("Sister Gertrud (not pictured) was found in her bedroom, with a towel on her face An 86-year-old nun was "
            "reportedly attacked before being murdered at a mission.")
    assert clean_text(para).text.startswith("An 86-year-old nun was reportedly attacked")


def test_cells_run_together_after_a_comma_are_broken_text() -> None:
    c = build_candidates("The Tories spent £ 2,980,815,The Lib Dems spent £1,580,575 on their campaign.", "")[0]
    assert not c.usable


# Round 2: the lede and the sentences that follow it in order, never a jump deep into the story.


def test_follow_ons_are_the_next_sentences_in_order_not_a_denser_one_further_down() -> None:
    text = ("The council approved a new cycle lane along the harbour road on Tuesday after a two-year dispute. "
            "Work will start in May and should be finished by the end of the summer. "
            "Residents had complained about traffic on the narrow road for years. "
            "The cycle lane on the harbour road will cost the council 2.4 million pounds, the cycle lane plan says. "
            "The harbour road cycle lane was first proposed by the council in 2019.")
    t = _teaser(text, 300)
    assert t.startswith("The council approved a new cycle lane along the harbour road on Tuesday after a two-year "
                        "dispute. Work will start in May")
    assert "2.4 million" not in t  # the run stops at the budget; it never jumps over a sentence to a later one


def test_attribution_is_kept_at_300_characters() -> None:
    text = ("Having a Waitrose within walking distance is not only convenient - it also means your house is worth "
            "more, according to a study. Homes with the upmarket store nearby cost 12 per cent more than those in "
            "surrounding areas.")
    assert _teaser(text, 300).startswith("Having a Waitrose within walking distance is not only convenient - it "
                                         "also means your house is worth more, according to a study.")


def test_a_caption_between_the_lede_and_its_next_sentence_is_stepped_over_and_a_question_ends_the_run() -> None:
    text = ("A two-year-old boy is recovering after falling into a cheetah exhibit at the city zoo, officials said.\n"
            "In this undated file photo, a cheetah rests at the zoo.\n"
            "The toddler's mother was holding him and another child when he slipped and fell into the pit.\n"
            "Should parents be banned from the railings?\n"
            "The zoo said it would review its safety barriers.")
    t = _teaser(text, 300)
    assert "file photo" not in t and "The toddler's mother was holding him" in t
    assert "Should parents" not in t and "review its safety barriers" not in t


def test_a_short_follow_on_is_kept() -> None:
    text = ("Stan Freberg, whose comic career in advertising won him worldwide acclaim, has died. He was 88. "
            "His son said he died of natural causes in a Santa Monica hospital.")
    assert _teaser(text, 300).startswith("Stan Freberg, whose comic career in advertising won him worldwide "
                                         "acclaim, has died. He was 88.")


@pytest.mark.parametrize("lede", [
    "She's been living in New York for a year now, and it seems that Princess Eugenie is right at home in the city.",
    "This is the moment a paedophile was caught by police after grooming a girl he believed to be 14 online.",
    "They are the peculiar concrete markings that have been spotted all across America, puzzling hikers.",
    "With his lively eyebrows and wrinkled cheeks - this state-of-the-art robotic head is menacingly lifelike.",
    "Lord Janner signed a letter saying he wanted to remain a peer a week before he was ruled unfit to stand trial.",
    "The last time Frank Jordan spoke with his son, Louis Jordan was fishing on a sailboat off the coast.",
])
def test_a_first_sentence_that_resolves_its_own_reference_opens(lede: str) -> None:
    text = lede + " The report was published on Friday by the local authority after a long investigation."
    assert _teaser(text, 300).startswith(lede)


@pytest.mark.parametrize("lede", [
    "He died at his home in Cambridge following an illness lasting several months, a statement said.",
    "She stressed that to kill a police officer was an attack on the fundamental basis of society.",
    "This is the third time the airport has delayed the opening of its new runway this year.",
])
def test_a_first_sentence_whose_pronoun_points_outside_the_text_is_refused(lede: str) -> None:
    text = lede + " Christopher Hogwood founded the Academy of Ancient Music in Cambridge in 1973 with friends."
    assert _teaser(text, 300).startswith("Christopher Hogwood founded")


def test_a_decimal_price_ends_a_sentence() -> None:
    from digest.condense.sentences import split_sentences

    got = split_sentences("The doll costs just $3.00. Myer have teamed up with Mattel to make it again.")
    assert got == ["The doll costs just $3.00.", "Myer have teamed up with Mattel to make it again."]


def test_a_video_page_date_line_is_not_a_caption() -> None:
    text = ("18 March 2014 Richard Blake-Smith and his partner Anna beat the Lithuanian champions in the "
            "wife-carrying race.\nThe race saw all combinations of competitors, men carrying women and men "
            "carrying men.")
    assert _teaser(text, 300).startswith("Richard Blake-Smith and his partner Anna beat")


def test_a_definite_noun_lede_introduced_by_the_next_sentence_opens_and_is_followed_by_it() -> None:
    text = ("But the study says there is no clear evidence of academic improvement for pupils using tablets.\n"
            "The study, commissioned by the charity Tablets for Schools, looked at 671 state and independent schools.\n"
            "Many pupils reported that they took an internet-connected device to bed.")
    t = _teaser(text, 300)
    assert t.startswith("The study says there is no clear evidence of academic improvement for pupils using tablets. "
                        "The study, commissioned by the charity")


def test_a_definite_noun_lede_the_next_sentence_does_not_introduce_is_refused() -> None:
    text = ("The victim was queuing for food at the branch in the high street when the assault occurred.\n"
            "Investigating officers said three men entered the restaurant and began bumping into people.\n"
            "It is believed one of the group then set light to the woman's hair.")
    assert _teaser(text, 300).startswith("Investigating officers said three men entered the restaurant")


@pytest.mark.parametrize("lede", ["This dog certainly is his master's best friend after saving him from a muddy grave.",
                                  "These incredible photos are about as close to an adult Where's Wally as you get."])
def test_a_demonstrative_with_its_noun_opens_the_first_sentence(lede: str) -> None:
    text = lede + " The black pooch was filmed taking a rescue rope out to his owner at the reservoir on Saturday."
    assert _teaser(text, 300).startswith(lede)


def test_a_demonstrative_that_points_back_to_figures_is_refused() -> None:
    text = ("These figures are the worst since records began in 1990 for the county's schools.\n"
            "The county council published its annual report on exam results on Thursday morning.")
    assert _teaser(text, 300).startswith("The county council published")


def test_a_list_like_lede_of_short_sentences_is_kept_in_order() -> None:
    text = ("Living under ISIS. Selling Girl Scout cookies. These are the best videos of the week. "
            "In the West, ISIS is widely known for its terrorist actions.")
    assert _teaser(text, 300).startswith("Living under ISIS. Selling Girl Scout cookies. These are the best videos")


def test_a_squad_list_and_a_run_on_caption_do_not_open() -> None:
    text = ("Ahead of this weekend's Premier League action, Sportsmail will be providing you with all you need to "
            "know about every fixture.\n"
            "The defender missed last Saturday's defeat to QPR and starts a three-game ban against Leicester.\n"
            "Craig Dawson brings down Wilfried Bony which earned him a retrospective red card for West Brom after "
            "Gareth McAuley was mistakenly dismissed for the challenge Ben Foster is a long-term absentee with a knee "
            "injury while Callum McManaman is not yet fit despite closing in on a return.\n"
            "Provisional squad: Myhill, Rose, Gamboa, Pocognoli, Wisdom, Lescott, Dawson, Olsson, McAuley.\n"
            "Matt Upson and Dean Hammond are available for Leicester's trip to West Brom.")
    assert _teaser(text, 300).startswith("Matt Upson and Dean Hammond are available")


def test_page_furniture_before_the_lede_is_not_a_short_lede_and_a_short_question_ends_the_run() -> None:
    text = ("Wait 1 second to continue.\n"
            "Gunmen opened fire on visitors at the country's most renowned museum on Wednesday, killing 19 people.\n"
            "It was awful!\n"
            "Which ones should you buy?\n"
            "The attack threatened to upset the fragile stability of the country.")
    t = _teaser(text, 300)
    assert t.startswith("Gunmen opened fire") and "It was awful!" in t
    # an open question right after the lede is its hook and the teaser's last sentence (round 9: the blind judges
    # preferred "… What do you see?" and "So what's a GreenPak?" kept); what follows it is not taken
    assert t.endswith("Which ones should you buy?") and "fragile stability" not in t


def test_a_credit_line_between_the_lede_and_the_next_sentence_is_stepped_over() -> None:
    text = ("The mother of a woman who took diet pills bought online has described her daughter's last hours.\n"
            "View this image ›\n"
            "West Mercia Police\n"
            "Eloise Parry, 21, was taken to hospital on 12 April after taking a lethal dose of the tablets.")
    assert "Eloise Parry, 21, was taken to hospital" in _teaser(text, 300)


# Issue 18 round 4: the connective ledes of texts whose own first sentence is missing (the editor flagged "However",
# "But" openers): with or without a comma, the connective goes and the rest opens.
@pytest.mark.parametrize("lede, expected", [
    ("However the Spanish champions insisted they had not committed any offence.",
     "The Spanish champions insisted they had not committed any offence."),
    ("However, there were people in the TV industry who thought the cast would struggle to find work once their "
     "time on the show was up.",
     "There were people in the TV industry who thought the cast would struggle to find work once their time on "
     "the show was up."),
])
def test_a_connective_lede_loses_its_connective(lede: str, expected: str) -> None:
    t = _teaser(f"{lede}\nBut a public fundraising campaign launched in September hit its target in just a month.\n")
    # the follower keeps its "But": it answers the sentence just before it, which the teaser now has (round 6)
    assert t == f"{expected} But a public fundraising campaign launched in September hit its target in just a month."


def test_a_but_lede_loses_its_connective_and_the_next_sentence_introduces_the_study() -> None:
    study = ("The study, commissioned by education technology charity Tablets for Schools, looked at a "
             "representative sample of 671 state and independent schools.")
    t = _teaser("But the study says there is no clear evidence of academic improvement for pupils using tablet "
                f"devices.\n{study}\n")
    assert t == ("The study says there is no clear evidence of academic improvement for pupils using tablet devices. "
                 f"{study}")
