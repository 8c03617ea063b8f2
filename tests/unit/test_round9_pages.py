"""Round 9: what 1,400 pages digest had not read showed: a post kept only in a <noscript> copy, a newsletter's plug
above the story, and a publisher's excerpt used as the teaser of last resort with its share bar and "[…]"."""

from __future__ import annotations

from digest.condense.clean import clean_text as clean
from digest.condense.teaser import make_teaser
from digest.model import Article
from digest.sources.html import parse_html

POST = [
    "Over the past year the harbour trust has counted more grey seals on the sandbanks than in any year since "
    "records began, and its volunteers have asked walkers to keep their dogs on a lead.",
    "The count, made from a boat each August, found 412 adults and 96 pups, against 301 and 70 a decade ago.",
    "Volunteers will run guided walks on Saturdays in September, starting at the lifeboat station at ten.",
]


def _blogger(noscript_extra: str = "") -> str:
    """A Blogger / *.googleblog.com post: the body sits in a text/template script, and its no-JS copy in <noscript>."""
    paras = "".join(f"<p>{p}</p>" for p in POST)
    return f"""<!doctype html><html lang="en"><head><title>Seal count rises - Harbour Trust Blog</title>
<meta property="og:description" content="Posted by the Harbour Trust team   Over the past year the ..."></head>
<body><div class="blog-header"><p>The latest news from the Harbour Trust</p></div>
<div class="post"><h2 class="title">Seal count rises</h2>
<div class="post-body"><div class="post-content" itemprop="articleBody">
<script type="text/template"><span class="byline-author">Posted by the Harbour Trust team</span>{paras}</script>
<noscript>{noscript_extra}<span class="byline-author">Posted by the Harbour Trust team</span>{paras}</noscript>
</div></div></div></body></html>"""


def test_a_post_kept_only_in_a_noscript_copy_is_read() -> None:
    art = parse_html(_blogger(), "blog.html")
    assert art.text.startswith(POST[0])
    assert POST[1] in art.text and POST[2] in art.text
    t = make_teaser(art, 300)
    assert t.text.startswith("Over the past year the harbour trust") and t.method != "fallback"


def test_a_noscript_that_asks_for_javascript_stays_out() -> None:
    notice = ("<p>For full functionality, it is necessary to enable JavaScript in your web browser, as these "
              "instructions explain.</p><p>The operator of this site is based in the United States, and any data "
              "you provide is stored and processed there, under the laws of the United States.</p>")
    story = "".join(f"<p>{p}</p>" for p in POST)
    page = f"""<html><head><title>Seal count rises</title></head><body><div><noscript>{notice}</noscript></div>
<article><h1>Seal count rises</h1>{story}</article></body></html>"""
    art = parse_html(page, "page.html")
    assert art.text.startswith(POST[0])
    assert "United States" not in art.text and "JavaScript" not in art.text


def test_a_page_rendered_by_script_is_read_from_its_noscript_copy() -> None:
    story = "".join(f"<p>{p}</p>" for p in POST)
    page = f"""<html><head><title>Seal count rises</title></head><body><div id="app"></div>
<script src="/bundle.js"></script><noscript><div class="wrap"><h1>Seal count rises</h1>{story}</div></noscript>
</body></html>"""
    art = parse_html(page, "spa.html")
    assert art.text.startswith(POST[0])


def test_a_noscript_with_an_image_only_is_still_junk() -> None:
    story = "".join(f"<p>{p}</p>" for p in POST)
    page = f"""<html><head><title>Seal count rises</title></head><body><article><h1>Seal count rises</h1>
<noscript><img src="/seals.jpg" alt="Seals on the sandbank"></noscript>{story}</article></body></html>"""
    art = parse_html(page, "img.html")
    assert art.text.startswith(POST[0]) and "Seals on the sandbank" not in art.text


PLUG = ("Start your day with the Morning Tide, brought to you by the Harbour Courier. The Morning Tide is the "
        "favourite breakfast reading of the town's skippers. Sign up for the free daily newsletter.")


def test_a_newsletter_plug_that_closes_on_sign_up_is_furniture() -> None:
    text = "\n\n".join([PLUG, *POST])
    out = clean(text).text
    assert "Morning Tide" not in out
    assert out.lstrip().startswith(POST[0])


def test_a_paragraph_about_a_newsletter_is_prose() -> None:
    # news about a newsletter, with no call to action: stays (and so does the story after it)
    para = ("The Morning Tide newsletter, which has 40,000 subscribers, said on Monday that it would close in "
            "March after its sponsor withdrew. Its editor will join the Harbour Courier.")
    out = clean("\n\n".join([para, *POST])).text
    assert para in out


def test_a_call_to_action_deep_in_a_long_paragraph_does_not_drop_it() -> None:
    long_para = " ".join(POST) + " Get the trust's app to log a sighting of your own."
    out = clean(long_para).text
    assert POST[0] in out


def _fallback(description: str) -> str:
    art = Article(source="calendar.html", text="Round 1: 10 March – Silverstone\n\nRound 2: 8 April – Brands Hatch",
                  kind="html", title="Season calendar", description=description)
    t = make_teaser(art, 300)
    assert t.method == "fallback", t.reasons
    return t.text


def test_a_fallback_excerpt_loses_its_share_bar_and_its_cut_mark() -> None:
    got = _fallback("Share this on WhatsAppSeason calendar 2018: round 1 at Silverstone, round 2 at Brands "
                    "Hatch, round 3 […]")
    assert got == "Season calendar 2018: round 1 at Silverstone, round 2 at Brands Hatch, round 3…"


def test_a_fallback_excerpt_with_dots_ends_on_one_ellipsis() -> None:
    got = _fallback("The season calendar for 2018 lists twelve rounds, from Silverstone in March to ...")
    assert got == "The season calendar for 2018 lists twelve rounds, from Silverstone in March to…"


def test_a_description_that_says_share_in_prose_is_left_alone() -> None:
    got = _fallback("Share prices of racing teams rose after the calendar was published.")
    assert got == "Share prices of racing teams rose after the calendar was published."


# Date stamps: a copied page joins the date line, the byline and the comment counter to the first paragraph.
STORY = "Harbour fees will rise by a tenth next year, the council decided on Tuesday after a long debate."


def test_a_date_stamp_run_into_the_first_sentence_is_removed() -> None:
    for stamp in ("Nov 19, 2019, 10:31 pm CST 0 ", "November 18, 2019 7:45 am PST by Joe Rossignol ",
                  "Wednesday, November 20, 2019 ", "Written by Rachael Link, MS, RD on November 14, 2019 ",
                  "By admin - 2018-09-16 ", "Debbie White 18 Nov 2019, 19:09 , 19:11 ",
                  "Moritz Bachmann publiziert am 25. September 2018 ", "Dennis Kochinky 19.10.2019, 15:30 Uhr ",
                  "12. November 2021 Kommentare 0 ", "Oct 30 2020 by Emily Co 828 ",
                  "Chris Davies - Nov 19, 2019, 10:31 pm CST 0 "):
        assert clean(stamp + STORY).text == STORY, stamp


def test_a_stamp_before_a_dateline_lets_the_dateline_go_too() -> None:
    out = clean("Wednesday, November 20, 2019 LOS ANGELES (AP) — " + STORY).text
    assert out == STORY


def test_a_label_and_a_stamp_before_the_first_sentence_are_removed() -> None:
    assert clean("CAR REVIEWS 2018 Lexus ES 350 October 19, 2018 " + STORY).text == STORY


def test_a_sentence_that_names_its_date_keeps_it() -> None:
    for text in ("November 18, 2019 was the day the harbour ferry made its last crossing of the season.",
                 "On October 19, 2018 Lexus revealed the LC Convertible Concept, an open-top version of the LC 500.",
                 "The show opens October 19, 2018 Tickets are on sale at the box office from Monday morning.",
                 "Harbour Town 18 Nov 2019 ferry news."):
        assert clean(text).text == text, text


def test_a_tag_list_is_furniture_however_long() -> None:
    tags = "Tags " + ", ".join(f"harbour topic {i}" for i in range(40))
    out = clean("\n\n".join([STORY, tags])).text
    assert out == STORY
    assert clean("Themen wie der Hafen und die Fähre stehen im Mittelpunkt der Sitzung am Dienstag.").text.startswith(
        "Themen wie")


def test_a_pasted_tag_label_takes_its_list_and_stops() -> None:
    from digest.sources.text import unwrap

    got = unwrap("Tags\nferry, harbour fees, council vote, islanders, winter timetable, ticket prices, pier repairs, "
                 "lifeboat station, seal count\n"
                 "ATTENTION: Comments that are unreadable or disrespectful to other readers will not be approved.")
    assert len(got) == 2 and got[0].startswith("Tags ferry") and got[1].startswith("ATTENTION")


def test_a_headline_run_into_an_agency_mark_is_cut() -> None:
    text = ("Council votes to raise harbour fees again (CNN)The harbour council voted on Tuesday to raise its fees by "
            "a tenth next year, after a summer of complaints from the islanders.")
    assert clean(text).text.startswith("The harbour council voted on Tuesday")
    kept = "The Associated Press (AP) reported that the harbour ferry made its last crossing of the season on Sunday."
    assert clean(kept).text == kept


def test_a_page_of_menu_lines_is_not_teased_with_a_fragment() -> None:
    menu = "\n".join(["Swap-Stop", "Menu", "Skip to content", "Startseite", "Carl-Walter", "Chuck-John W.",
                      "Kathryn-John W.", "John U.", "Jürgen", "Karlheinz"])
    t = make_teaser(Article(source="menu.txt", text=menu, kind="text", title="Swap-Stop"), 300)
    assert t.text not in ("Chuck-John W.", "Kathryn-John W.", "John U.")


def test_stamps_in_other_languages_are_removed() -> None:
    for stamp in ("Cartoni 02 Ago 2017 ", "3. März 2021 ", "12 de agosto de 2019 ", "5 févr. 2020 ",
                  "Soila Paniagua 22 abril, 2022 ", "Datum 28.01.2022 "):
        assert clean(stamp + STORY).text == STORY, stamp
    assert clean("On 3 mar 2020 " + STORY).text.startswith("On 3 mar 2020")


def test_a_long_support_plea_with_an_ad_blocker_is_furniture() -> None:
    plea = ("HARBOUR NEWS brings you the news of the port every day, and we do it gladly and with enthusiasm for the "
            "boats that shape our town. Die einfachste Art, uns bei unserer Arbeit zu unterstützen und Danke zu "
            "sagen, ist, wenn ihr über einen der folgenden Links einkauft oder eure Werbeblocker ausschaltet. Wir "
            "danken euch sehr herzlich für eure Treue und eure vielen Zuschriften zu unseren Artikeln über den Hafen.")
    assert len(plea) > 300
    out = clean("\n\n".join([STORY, plea])).text
    assert out == STORY
    kept = "Die Stadt will den Hafen unterstützen, sagte die Bürgermeisterin am Dienstag im Rat nach einer Debatte."
    assert clean(kept).text == kept


def test_french_inclusive_writing_is_not_a_link_list() -> None:
    from digest.sources.text import _is_linklist

    assert not _is_linklist("Plus de 2500 chercheur·eus·e·s annoncent faire acte de candidature collectivement.")
    assert _is_linklist("Accueil · Actualités · Sport · Culture")


def test_site_notices_are_furniture() -> None:
    for notice in ("This modal can be closed by pressing the Escape key or activating the close button.",
                   "You can help by adding missing items with reliable sources.",
                   "Most stock quote data provided by BATS. Market indices are shown in real time, except for the "
                   "DJIA, which is delayed by two minutes. All times are ET. Disclaimer. Morningstar: © 2016 "
                   "Morningstar, Inc. All Rights Reserved. Factset: FactSet Research Systems Inc. 2016. All rights "
                   "reserved. Chicago Mercantile Association: Certain market data is the property of Chicago "
                   "Mercantile Exchange Inc. and its licensors."):
        assert clean("\n\n".join([STORY, notice])).text == STORY, notice[:40]
    assert clean("Your video will play in 00:25 " + STORY).text == STORY


def test_a_tag_list_with_the_lede_run_into_it_keeps_the_lede() -> None:
    line = "Filed under: Hafen, Fähre, Winter — ruth @ 00:11 Tags: Fähre " + STORY
    assert STORY in clean(line).text


def test_an_affiliate_compensation_notice_is_furniture() -> None:
    for notice in ("We may receive compensation when you click on links to those products.",
                   "Terms apply to the offers listed on this page.",
                   "For an explanation of our Advertising Policy, visit this page."):
        assert clean("\n\n".join([notice, STORY])).text == STORY, notice


def test_a_changelog_line_loses_its_plus_bullet() -> None:
    text = ("+ Added a new winter timetable for the island ferry, with two extra crossings on Saturdays.\n"
            "+ Added coarse gravel to the car park so that the lorries no longer sink in the mud.")
    t = make_teaser(Article(source="changes.txt", text=text, kind="text", title="Harbour changelog"), 300)
    assert t.text.startswith("Added a new winter timetable"), t.text


def test_an_update_stamp_between_two_sentences_goes() -> None:
    got = clean("The council has never before closed the harbour the way it did on Monday. Updated on September 19 at "
                "3:15 p.m. Just before 8 in the morning, the ferry horns sounded across the town.").text
    assert "Updated on" not in got and got.endswith("across the town.")
    prose = "The timetable was updated on September 19 at 3 p.m. by the harbour office."
    assert clean(prose).text == prose


def test_a_full_width_bracket_closed_by_an_ascii_one_is_balanced() -> None:
    from digest.condense.style import balanced, repair_brackets

    line = "港湾サービス株式会社（本社：岡山市北区、代表取締役社長 山田太郎)は、新しいフェリーを発売しました。"
    assert not balanced(line) and balanced(repair_brackets(line))
    assert repair_brackets("a (b) c") == "a (b) c"


def test_a_character_reference_left_in_the_text_becomes_its_character() -> None:
    got = make_teaser(Article(source="t.txt", kind="text", title="",
                              text="&#151; -- " + STORY + " The new fees start in May."), 300).text
    assert got.startswith("Harbour fees will rise"), got
