"""Defects seen on real pages we had never seen (issue 18, "Unseen pages"), each on a small fixture of our own."""

from __future__ import annotations

from pathlib import Path

from digest.condense import make_teaser
from digest.errors import SourceError
from digest.sources import load

_GERMAN_ON_EN_TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Neue Wege in der Pflege | Beispielblog</title></head><body>
<nav><a href="/">Start</a> <a href="/blog">Blog</a></nav>
<article><h1>Neue Wege in der Pflege</h1>
<p>Die Digitalisierung verändert die Arbeit in der Pflege, und das nicht erst seit gestern. Viele Häuser in der
Region setzen auf neue Software für die Dienstplanung. Auch wenn nicht jedes Haus davon bzw. von den neuen
Abläufen sofort profitiert, sind die Erfahrungen bisher gut. Die Kosten für die Umstellung tragen zum Teil die
Länder, der Rest kommt aus den eigenen Mitteln der Träger.</p>
<p>Im nächsten Jahr soll die Software auch in den Kliniken der Stadt eingeführt werden, sagte eine Sprecherin
des Trägers. Bis dahin werden die Mitarbeiter in kleinen Gruppen geschult, damit der Wechsel ohne Pausen gelingt.</p>
</article><footer>Impressum</footer></body></html>
"""


def test_declared_language_that_the_text_contradicts_gives_way(tmp_path: Path) -> None:
    page = tmp_path / "pflege.html"
    page.write_text(_GERMAN_ON_EN_TEMPLATE, encoding="utf-8")
    article = load(str(page))[0]
    assert article.lang == "de"
    teaser = make_teaser(article, max_chars=300).text
    # "bzw." is a German abbreviation: the teaser never ends on it
    assert not teaser.endswith("bzw.")
    assert teaser.startswith("Die Digitalisierung verändert die Arbeit in der Pflege")


def test_declared_language_kept_when_the_text_agrees(tmp_path: Path) -> None:
    page = tmp_path / "en.html"
    page.write_text(_GERMAN_ON_EN_TEMPLATE.replace('lang="en"', 'lang="de-DE"'), encoding="utf-8")
    assert load(str(page))[0].lang == "de-DE"


def _txt(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def _teaser_of(tmp_path: Path, name: str, text: str) -> str:
    """The 300-character teaser of ``text`` read as the file ``name`` (the loader picks its parser by name)."""
    return make_teaser(load(_txt(tmp_path, name, text))[0], max_chars=300).text


def test_wire_photo_caption_above_the_story_is_not_the_lede(tmp_path: Path) -> None:
    # a whole-page paste: the photo's wire caption (a present-tense scene dated to the day) sits above the story
    dump = (
        "Mayor opens the new river bridge - Example News\n\nHome\n\nNews\n\nMayor opens the new river bridge\n\n"
        "Mayor Jane Holt, left, speaks with a cyclist on the new bridge, Monday, May 4, 2020, in Riverton, Ore.\n\n"
        "The new bridge over the Riverton river opened on Monday after three years of work and a budget that grew "
        "by a third. Mayor Jane Holt said the crossing would cut the drive to the hospital by twenty minutes.\n\n"
        "Cyclists and walkers get a separate lane, which the city council added after a petition last spring.\n"
    )
    teaser = _teaser_of(tmp_path, "bridge.txt", dump)
    assert teaser.startswith("The new bridge over the Riverton river opened on Monday")
    assert "left, speaks" not in teaser


def test_a_dated_sentence_of_prose_is_kept(tmp_path: Path) -> None:
    text = (
        "The new toll takes effect on Jan. 1, 2021, the transport authority said in a statement on Friday.\n\n"
        "Drivers will pay four dollars a crossing, and the money goes to repairs of the old tunnel under the bay.\n"
    )
    teaser = _teaser_of(tmp_path, "toll.txt", text)
    assert teaser.startswith("The new toll takes effect on Jan. 1, 2021")


def test_comment_moderation_notice_is_not_the_teaser(tmp_path: Path) -> None:
    text = (
        "Comentários ofensivos ou fora do tema não serão aprovados pelo moderador.\n\n"
        "A prefeitura anunciou nesta segunda-feira a reforma completa do mercado municipal, fechado desde março. "
        "As obras devem durar oito meses e custar cerca de dois milhões de reais.\n"
    )
    teaser = _teaser_of(tmp_path, "mercado.txt", text)
    assert "moderador" not in teaser
    assert teaser.startswith("A prefeitura anunciou nesta segunda-feira")


def test_comments_in_the_news_are_not_a_notice(tmp_path: Path) -> None:
    text = (
        "Finance Minister Anna Berg said her comments were approved by the cabinet before the speech.\n\n"
        "Opposition leaders called the speech reckless and asked for a debate in parliament next week.\n"
    )
    teaser = _teaser_of(tmp_path, "speech.txt", text)
    assert teaser.startswith("Finance Minister Anna Berg said her comments were approved")


def test_a_shouted_promo_does_not_follow_the_lede(tmp_path: Path) -> None:
    text = (
        "The city council voted on Tuesday to close the old harbour bridge to cars from next spring.\n\n"
        "Buses and bicycles may still use it. WATCH IT LIVE!\n\n"
        "The bridge, built in 1911, needs repairs that the council cannot pay for this year.\n"
    )
    teaser = _teaser_of(tmp_path, "harbour.txt", text)
    assert "WATCH" not in teaser
    assert teaser.startswith("The city council voted on Tuesday")


_JAPANESE_POST = """<!doctype html><html lang="ja"><head><meta charset="utf-8">
<title>新しい図書館の話 | 例のブログ</title></head><body><nav><a href="/">ホーム</a></nav>
<article><h1>新しい図書館の話</h1>
<p>先週、駅の近くに新しい図書館が開館したというお知らせを見て、さっそく行ってみました。</p>
<p>館内はとても明るく、子ども向けの本のコーナーも広く作られていました。</p>
<p>平日の夜も九時まで開いているので、仕事の帰りにも立ち寄ることができます。</p>
<p>次の週末には、家族と一緒にもう一度訪れてみたいと思います。</p>
</article><footer>お問い合わせ</footer></body></html>
"""


def test_a_japanese_page_has_an_article_and_a_teaser(tmp_path: Path) -> None:
    page = tmp_path / "library.html"
    page.write_text(_JAPANESE_POST, encoding="utf-8")
    article = load(str(page))[0]  # was "no article text found": words were counted by spaces
    teaser = make_teaser(article, max_chars=150).text
    assert teaser.startswith("先週、駅の近くに新しい図書館が開館したというお知らせを見て、さっそく行ってみました。"
                             "館内は")
    assert "。 " not in teaser  # Japanese sentences are joined without a space
    assert teaser.endswith("。") and len(teaser) <= 150


def test_a_japanese_page_dump_opens_with_its_story(tmp_path: Path) -> None:
    dump = ("新しい図書館の話 | 例のブログ\n\nホーム\n\nブログ\n\nお客様の声をお届けします。\n\n"
            "先週駅の近くに新しい図書館が開館したというお知らせを見てさっそく行ってみました。\n\n"
            "館内はとても明るく子ども向けの本のコーナーも広く作られていました。\n\n"
            "平日の夜も九時まで開いているので仕事の帰りにも立ち寄ることができます。\n\nお問い合わせ\n")
    teaser = _teaser_of(tmp_path, "library.txt", dump)
    assert teaser.startswith("先週駅の近くに新しい図書館が開館した")


def test_a_page_without_sentences_falls_back_to_its_title(tmp_path: Path) -> None:
    page = tmp_path / "lyrics.html"
    lines = "".join(f"<p>la li lo lu word{i} and more words here</p>" for i in range(12))
    page.write_text(f"""<!doctype html><html><head><title>Song of the River - The Boatmen</title>
<meta name="description" content="* la li lo lu word0 and more ..."></head><body><article>{lines}</article>
</body></html>""", encoding="utf-8")
    teaser = make_teaser(load(str(page))[0], max_chars=300)
    assert teaser.method == "fallback" and teaser.text.startswith("Song of the River")


def test_letters_page_plea_is_dropped_and_an_expletive_it_opens(tmp_path: Path) -> None:
    text = (
        "Submit your letter to the editor via this form. Read more Letters to the Editor.\n\n"
        "It should come as no surprise that the county board approved the new jail budget on a split vote, "
        "despite months of protests.\n\n"
        "I beg to differ with the board.\n"
    )
    teaser = _teaser_of(tmp_path, "letters.txt", text)
    assert teaser.startswith("It should come as no surprise that the county board approved the new jail budget")
    assert "Submit your letter" not in teaser


def test_an_it_that_points_back_still_needs_its_sentence(tmp_path: Path) -> None:
    text = (
        "The old ferry made its last crossing of the lake on Sunday after ninety years of service.\n\n"
        "It was clear that it would be missed by the villages on the far shore, the mayor said.\n"
    )
    teaser = _teaser_of(tmp_path, "ferry.txt", text)
    assert teaser.startswith("The old ferry made its last crossing")


def test_soft_hyphens_never_reach_the_teaser(tmp_path: Path) -> None:
    shy = "\u00ad"
    page = tmp_path / "hyphen.html"
    body = (f"<p>Auch in die{shy}sem Jahr lädt der Verein zum his{shy}to{shy}ri{shy}schen Markt in die alte "
            f"Burg ein, mit Hand{shy}werk, Musik und Speisen wie vor hundert Jahren.</p>"
            "<p>Der Eintritt ist frei, und für Kinder gibt es am Sonntag ein eigenes Programm im Burghof.</p>")
    page.write_text(f"<!doctype html><html lang='de'><head><title>Markt</title></head><body><article>{body}"
                    "</article></body></html>", encoding="utf-8")
    (tmp_path / "hyphen.txt").write_text("Markt\n\n" + body.replace("<p>", "").replace("</p>", "\n\n"),
                                         encoding="utf-8")
    for name in ("hyphen.html", "hyphen.txt"):
        teaser = make_teaser(load(str(tmp_path / name))[0], max_chars=300).text
        assert shy not in teaser
        assert teaser.startswith("Auch in diesem Jahr lädt der Verein zum historischen Markt")


def test_client_side_template_placeholders_are_no_article(tmp_path: Path) -> None:
    page = tmp_path / "app.html"
    page.write_text("<!doctype html><html><head><title></title></head><body><article>"
                    '<p>{{ctrl.content.status === "published" ? "Contenu publié" : ctrl.content.status === '
                    '"pending" ? "En attente de validation" : "Inconnu"}}</p>'
                    "<p>{{ctrl.content.author.fullName}} - {{ctrl.content.updated | date : 'dd/MM/yyyy'}} - "
                    "{{ctrl.content.words}} mots, {{ctrl.content.images}} images et {{ctrl.content.videos}}</p>"
                    "</article></body></html>", encoding="utf-8")
    try:
        articles = load(str(page))
    except SourceError:
        return  # no article text in the page: said so, nothing made up
    text = make_teaser(articles[0], max_chars=300).text
    assert "{{" not in text and "===" not in text
