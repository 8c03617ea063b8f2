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


# --- German quotation marks: „ opens, “ closes ----------------------------------------------------------------------

def test_german_quotes_are_balanced_and_an_attributed_quote_is_one_sentence() -> None:
    from digest.condense.style import balanced

    assert balanced("„Der Markt ist gut gestartet“, sagte der Vorstand.")
    assert not balanced("„Der Markt ist gut gestartet, sagte der Vorstand.")
    assert balanced("Er nannte es „gut“ und sie “schlecht”.")
    text = ("„Meine letzte Beziehung ging vor drei Jahren in die Brüche“, erzählt die 27-jährige Lena. "
            "„Ich habe keine Lust.“ Mit dieser Entscheidung ist sie zufrieden.")
    assert split_sentences(text, "de") == [
        "„Meine letzte Beziehung ging vor drei Jahren in die Brüche“, erzählt die 27-jährige Lena.",
        "„Ich habe keine Lust.“", "Mit dieser Entscheidung ist sie zufrieden."]


def test_a_long_german_quotation_is_speech_and_its_sentences_split() -> None:
    text = ("01.02.2024 „Der Arbeitsmarkt in der Region ist gut in das neue Jahr gestartet. Die Zahl der arbeitslosen "
            "Menschen ist im Januar zwar gestiegen, aber nicht so stark wie sonst.“, sagte die Leiterin der Agentur.")
    assert len(split_sentences(text, "de")) == 2


def test_a_german_lede_with_a_quotation_in_it_is_the_lede() -> None:
    text = ("Die Winterausstellung „Drei Haselnüsse für Aschenbrödel“ öffnet am 22. November auf Schloss Moritzburg "
            "bei Dresden. Genau 50 Jahre ist es her, dass der Film dort gedreht wurde. Die Schau zeigt Kostüme und "
            "Requisiten aus dem Film.")
    assert _teaser(text, 200, "de").startswith("Die Winterausstellung „Drei Haselnüsse")


# --- a title with given name and surname introduces its bearer ------------------------------------------------------

def test_a_title_with_given_name_and_surname_may_open_but_a_title_with_a_surname_alone_may_not() -> None:
    body = (" is a retired psychotherapist with seventeen years of practice in London. Readers send her their "
            "questions about dating, family and work, and the column answers three of them every week.")
    assert _teaser("Dr. Sheri Jacobson" + body, 300, "en").startswith("Dr. Sheri Jacobson is")
    assert not _teaser("Dr. Jacobson" + body, 300, "en").startswith("Dr. Jacobson is")


# --- connectives: a sentence that goes on from the one before does not open -----------------------------------------

def test_a_sentence_that_opened_with_and_does_not_open_the_teaser() -> None:
    text = ("“We have never seen a storm tear away forty metres of decking in one night,” a fisherman said. "
            "And the town council says the repairs will cost more than two million pounds this year. "
            "Engineers will inspect the remaining timber piles next week, the council said.")
    t = _teaser(text, 160, "en")
    assert t.startswith("Engineers will inspect")


def test_a_short_lede_answered_by_the_next_sentence_opens_with_its_answer() -> None:
    text = ("C’est la guerre. Et pourtant, à moi aussi, la violence me manque depuis que les audiences sont "
            "suspendues. Faute d’audiences, certains avocats s’essaient à la tribune dans les journaux du soir.")
    t = _teaser(text, 200, "fr")
    assert t.startswith("C’est la guerre. Et pourtant, à moi aussi")


def test_a_lede_that_repeats_the_headline_opens_when_the_next_sentence_leans_on_it() -> None:
    art = Article(title="Once in a while I like to go vegan", kind="text", source="t.txt", lang="en",
                  text="Once in a while, I like to go vegan for a month. And I make it a point to cook one new dish "
                       "every week when I do. This time it was a char kway teow with fried tofu and bean sprouts.")
    assert make_teaser(art, 300).text.startswith("Once in a while, I like to go vegan")


# --- German pointers, only in German text ---------------------------------------------------------------------------

def test_german_pointers_refuse_an_opener_but_a_demonstrative_before_a_noun_does_not() -> None:
    from digest.condense.pointers import _POINTS_BACK_DE

    assert _POINTS_BACK_DE.match("Dabei wurden neue Orte in die Karten eingefügt.")
    assert _POINTS_BACK_DE.match("Viele Menschen träumen daher davon, autark zu sein.")
    assert not _POINTS_BACK_DE.match("Dieser Artikel folgt auf einen Beitrag über die Debatte.")
    assert not _POINTS_BACK_DE.match("Der Stadtrat hat den Haushalt beschlossen.")


# --- furniture of German wire copy: "München / Berlin - ", "(li.)" --------------------------------------------------

def test_a_dateline_of_two_places_with_a_hyphen_is_removed_but_an_aside_between_hyphens_is_not() -> None:
    from digest.condense.datelines import place_dateline

    lede = ("München / Berlin - Bayerns Wirtschaftsminister hat eine Initiative auf den Weg gebracht, die Betreibern "
            "von Biogasanlagen höhere Erlöse sichern soll.")
    assert lede[place_dateline(lede):].startswith("Bayerns Wirtschaftsminister")
    aside = "Messi - Barcelona's forward - scored twice on Sunday as his team beat the league leaders by three goals."
    assert place_dateline(aside) == 0


def test_a_photo_position_marker_is_removed_from_the_sentence() -> None:
    text = ("Die Koalition streitet über einen subventionierten Strompreis für die Industrie. "
            "Bundeswirtschaftsminister Robert Habeck (li.) dringt auf eine schnelle Entscheidung der Regierung.")
    t = _teaser(text, 300, "de")
    assert "(li.)" not in t and "Robert Habeck dringt auf eine schnelle Entscheidung" in t


# --- a quotation set line by line (lyrics, a poem) is part of the article -------------------------------------------

def test_lyrics_quoted_line_by_line_do_not_cut_the_article_in_two() -> None:
    from digest.sources.text import parse_text

    verse = ["„Er war mein Vorbild, doch jetzt ist er müde", "Weil er mit fünfzig nichts als Erinnerungen hat",
             "Ich half ihm bis zum letzten Satz wie einem Onkel", "Der dann die Tatsachen verdreht und schweigt",
             "Weil er schon lang nicht mehr aus Liebe schreibt", "Für ihn ist das größte Problem, was sich reimt“"]
    raw = "\n\n".join([
        "Der Streit unter Rappern geht weiter. Mit seinem neuen Song meldete sich der Musiker nach zwei Jahren "
        "zurück und greift darin mehrere Kollegen scharf an, darunter zwei Legenden der Szene.",
        "Die Zeilen gegen den Kollegen", *verse, "Die Antwort",
        "Die Zeilen brachten den Angegriffenen dazu, sich zu äußern. Für gewöhnlich schweigt er, wenn sein Name "
        "fällt. Diesmal sah er sich genötigt, ein Statement abzugeben."])
    art = parse_text(raw, "t.txt")
    assert art.text.startswith("Der Streit unter Rappern geht weiter.")
    assert "Diesmal sah er sich genötigt" in art.text


# --- a question lede with its answer --------------------------------------------------------------------------------

def test_a_question_lede_opens_together_with_the_sentence_that_answers_it() -> None:
    text = ("Do you like kamaboko, the Japanese fish cake? There are all different kinds, from the spiral-patterned "
            "pink ones in your ramen to the ones in a convenience store oden. Dezuka Suisan in Sendai fries them fresh "
            "every morning and sells out by noon.")
    assert _teaser(text, 300, "en").startswith("Do you like kamaboko, the Japanese fish cake? There are all")


def test_a_question_whose_answer_does_not_fit_after_it_does_not_open() -> None:
    text = ("Why are so many bumblebees found dead under lime trees in July? The insects starve: the late lime "
            "blossom smells strongly but gives almost no nectar or pollen, and by then little else flowers in towns.")
    t = _teaser(text, 120, "en")
    assert not t.startswith("Why are so many bumblebees") and t.startswith("The insects starve")


def test_a_question_followed_by_an_interjection_does_not_open() -> None:
    text = ("Du willst mich besser kennen lernen? Prima! Ich arbeite seit zwölf Jahren als Illustratorin in Leipzig "
            "und zeichne vor allem Kinderbücher und Plakate für Theater in ganz Sachsen.")
    assert not _teaser(text, 300, "de").startswith("Du willst")


def test_a_login_wall_line_after_the_article_is_furniture() -> None:
    from digest.condense.clean import _match_tail

    assert _match_tail("Sie müssen sich einloggen, um sich an einer Diskussion beteiligen zu können.")
    assert _match_tail("Vous devez être connecté pour publier un commentaire.")


def test_a_spanish_dateline_with_a_full_stop_and_hyphen_is_removed() -> None:
    from digest.condense.datelines import place_dateline

    lede = ("Washington.- El senador republicano calificó el martes al presidente de estar incapacitado y dijo que "
            "debería dimitir antes de las elecciones.")
    assert lede[place_dateline(lede):].startswith("El senador republicano")


def test_a_caption_name_after_the_lede_is_not_kept_as_a_short_sentence() -> None:
    text = ("A 35-year-old woman from Debe is due in court today after she was charged with the murder of her mother. "
            "Mrs. Joan Honoré-Paul. The body of the 62-year-old was found on Tuesday afternoon at their home.")
    assert "Honoré-Paul" not in _teaser(text, 300, "en")


def test_explain_says_when_a_question_lede_gave_way_because_its_answer_did_not_fit() -> None:
    from digest.condense import explain

    text = ("Do you like kamaboko, the Japanese fish cake? There are all different kinds, from the spiral-patterned "
            "pink ones in your ramen to the ones in a convenience store oden. Dezuka Suisan in Sendai fries them fresh "
            "every morning and sells out by noon.")
    art = Article(title="", kind="text", source="t.txt", text=text, lang="en")
    wide, narrow = explain(art, 300), explain(art, 100)
    assert "ACCEPTED: a question near the top" in wide
    assert "refused: question (its answer does not fit after it)" in narrow
    assert "ACCEPTED: a question" not in narrow


# --- round 7b: what the judge flagged on T11 ------------------------------------------------------------------------

def test_a_german_adverb_that_opens_a_sentence_is_not_stripped_from_it() -> None:
    text = ("Schlauchlose Reifen gibt es seit gefühlten Ewigkeiten und die Vorteile sind nicht von der Hand zu weisen. "
            "Dennoch scheuen viele Biker sich vor der Montage, weil sie als kompliziert und schmutzig gilt.")
    from digest.condense.select import build_candidates

    second = build_candidates(text, "", lang="de")[1]
    assert second.text.startswith("Dennoch scheuen viele Biker") and not second.connective


def test_plus_with_a_comma_goes_on_from_the_sentence_before() -> None:
    text = ("These peanut butter truffles have a creamy sweet centre and a dark chocolate shell. "
            "Plus, this recipe uses just five ingredients and is dairy-free, gluten-free and vegan! "
            "You can keep them in the freezer for up to three months.")
    from digest.condense.select import build_candidates

    second = build_candidates(text, "", lang="en")[1]
    assert second.connective == "Plus, " and second.text.startswith("This recipe uses")
    assert not _teaser(text, 300, "en").startswith("This recipe uses")


def test_german_aber_in_a_sentences_first_words_points_back() -> None:
    from digest.condense.pointers import _POINTS_BACK_DE

    assert _POINTS_BACK_DE.match("Die Woche war aber nicht nur geprägt von vielen Sonnenstunden.")
    assert _POINTS_BACK_DE.match("Die Monatsraten sind beim Leasing darüber hinaus meist niedrig.")


def test_a_question_that_turns_from_the_lede_follows_it_but_a_reader_poll_does_not() -> None:
    text = ("Krebspatienten bedienen sich oft komplementärmedizinischer Methoden, auch neben der Chemotherapie. "
            "Doch was können die alternativen Therapien bei Krebs wirklich leisten? Darüber diskutieren Experten "
            "seit gestern bei einem Kongress in Linz.")
    t = _teaser(text, 300, "de")
    assert t.endswith("Doch was können die alternativen Therapien bei Krebs wirklich leisten?")


def test_bengali_sentences_end_at_the_danda() -> None:
    text = "আজ শনিবার সকালে গ্রামে এ ঘটনা ঘটে।হামলাকারীকে আটক করেছে পুলিশ। নিহতের স্বজনরা মামলা করবেন।"
    assert split_sentences(text) == ["আজ শনিবার সকালে গ্রামে এ ঘটনা ঘটে।", "হামলাকারীকে আটক করেছে পুলিশ।",
                                     "নিহতের স্বজনরা মামলা করবেন।"]


def test_a_pair_of_names_is_not_taken_for_the_end_of_a_run_in_headline() -> None:
    from digest.condense.datelines import headline_runin

    line = ("Die ifzw impulsstiftung und Dago Leukefeld besiegeln ihre gute Zusammenarbeit und richten sich für die "
            "Zukunft aus: Dago Leukefeld wird Botschafter des Sports der ifzw impulsstiftung.")
    assert headline_runin(line) == 0


def test_a_question_whose_next_sentence_names_it_as_this_question_opens_with_it() -> None:
    text = ("Wo gibt es in den Alpen gerade wie viel Schnee? Diese Frage kommt häufig auf, wenn der nächste Ausflug in "
            "die Berge geplant wird. Eine neue Karte zeigt die Schneehöhen jetzt täglich für die ganze Schweiz.")
    assert _teaser(text, 300, "de").startswith("Wo gibt es in den Alpen gerade wie viel Schnee? Diese Frage")


def test_german_sie_points_back_only_with_a_verb_in_the_singular_and_dann_points_back() -> None:
    from digest.condense.pointers import _POINTS_BACK_DE

    assert _POINTS_BACK_DE.match("Sie war für uns spannend, energiegeladen und voller Begegnungen.")
    assert not _POINTS_BACK_DE.match("Sie können selber bestimmen, unter welchen Bedingungen Ihre Werke erscheinen.")
    assert _POINTS_BACK_DE.match("Dann versank ich im Tiefschwarz der Narkose.")
    assert not _POINTS_BACK_DE.match("Dies ist vielleicht ein Food-Blog, aber meine Interessen gehen weiter.")


def test_the_second_of_two_questions_does_not_open_with_a_heading_as_its_answer() -> None:
    text = ("Wie viele Tage im Jahr dürfen Mitarbeiter zu Hause bleiben, wenn ihr Kind krank ist? Muss der Arbeitgeber "
            "dann weiter Gehalt bezahlen? Die wichtigsten Fragen und Antworten.\n"
            "Für Eltern von kleinen Kindern eine typische Situation: Die Kita ruft an, das Kind hat Fieber und muss "
            "sofort abgeholt werden.")
    assert _teaser(text, 300, "de").startswith("Für Eltern von kleinen Kindern")


def test_a_turn_of_an_interview_does_not_open_the_teaser() -> None:
    text = ("Atim: Es wäre tragisch, wenn es nicht so wäre. Es gibt so viel Reichtum auf diesem Kontinent.\n"
            "Redaktion: Wie lange haben Sie für die Rolle trainiert?\n"
            "Atim: Fast ein Jahr, jeden Tag vier Stunden, mit Schwertern und ohne.\n"
            "Die Schauspielerin Sheila Atim spielt in dem Film eine Kriegerin des Königreichs Dahomey, der im "
            "Dezember in die deutschen Kinos kommt.")
    t = _teaser(text, 300, "de")
    assert not t.startswith("Atim:")


def test_guillemets_that_pair_up_are_quotation_marks_not_link_separators() -> None:
    from digest.sources.text import _is_linklist

    prose = ("Es ist der vorläufige Höhepunkt einer Erfolgsgeschichte. «MIRO Analytical», vor vier Jahren gegründet, "
             "erhält ein «Innosuisse Certificate» und zieht in das «ESA BIC»-Programm ein.")
    assert not _is_linklist(prose)
    assert _is_linklist("Home » News » Sport » Fussball")


def test_a_question_answered_by_das_and_a_verb_opens_with_it() -> None:
    text = ("Leidest du an ständiger Müdigkeit ohne sichtbare Ursachen? Das kann nicht nur an der Jahreszeit liegen, "
            "sondern auch ein Symptom sein. Diese fünf Krankheiten können dahinterstecken, sagen Ärzte.")
    assert _teaser(text, 300, "de").startswith("Leidest du an ständiger Müdigkeit")


# --- T17: affiliate disclosures, "Denn …", "der 35-Jährige", short replies ------------------------------------------

def test_an_affiliate_disclosure_is_boilerplate_but_news_about_a_commission_is_not() -> None:
    from digest.condense.clean import _match_line

    assert _match_line("If you purchase something through the link, I may receive a small commission at no extra "
                       "charge to you.")
    assert _match_line("Dieser Artikel enthält Affiliate-Links und/oder werbende Inhalte.")
    assert not _match_line("Estate agents may earn a commission of up to 3 per cent on each sale, the report found.")


def test_german_denn_and_an_unnamed_age_point_back() -> None:
    from digest.condense.pointers import _POINTS_BACK_DE

    assert _POINTS_BACK_DE.match("Denn der berühmte Kuchen mit Rosinen gehört einfach zum Fest.")
    assert _POINTS_BACK_DE.match("Seit dieser Woche trainiert der 35-Jährige bei der dritten Mannschaft mit.")
    assert not _POINTS_BACK_DE.match("Der Verein hat den Vertrag mit dem Trainer um zwei Jahre verlängert.")


def test_a_question_answered_by_a_one_word_reply_opens_with_it() -> None:
    text = ("Was haben fahrerlose Autos und Pakete ausliefernde Drohnen mit der Zukunft der Stadt zu tun? Wenig, "
            "schreibt der Architekt und Stadtplaner in seinem Essay über lebenswerte Städte mit viel öffentlichem "
            "Raum. Die Stadt der Zukunft brauche vor allem Plätze, an denen Menschen sich begegnen.")
    assert _teaser(text, 300, "de").startswith("Was haben fahrerlose Autos")
