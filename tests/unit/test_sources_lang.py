"""Every article gets a language: the one its source declares, else a guess from its text, else None."""

from __future__ import annotations

from pathlib import Path

from digest.sources import load

EN = ("The council met on Monday and agreed that the old library will close at the end of the year. "
      "A new building is planned for the site, and the mayor said that it would open in the spring "
      "with more room for children and for the local history collection.")
FR = ("Le conseil municipal s'est réuni lundi et a décidé que la vieille bibliothèque fermera à la fin de "
      "l'année. Un nouveau bâtiment est prévu sur le site, et le maire a dit qu'il ouvrira au printemps "
      "avec plus de place pour les enfants et pour la collection d'histoire locale.")


def test_markdown_without_lang_gets_a_guess(tmp_path: Path) -> None:
    en, fr = tmp_path / "en.md", tmp_path / "fr.md"
    en.write_text(f"---\ntitle: Library\n---\n\n{EN}\n", encoding="utf-8")
    fr.write_text(f"---\ntitle: Bibliothèque\n---\n\n{FR}\n", encoding="utf-8")
    assert load(str(en))[0].lang == "en"
    assert load(str(fr))[0].lang == "fr"


def test_declared_language_wins_unless_the_text_clearly_contradicts_it(tmp_path: Path) -> None:
    # A site template's lang="de" on an English article gives way to the text (issue 18, unseen pages: a German
    # article on a page marked lang="en" had its sentences split at "bzw."); with too little text to tell, or a
    # text that agrees, the declared language stays.
    page = tmp_path / "page.html"
    page.write_text(f'<!doctype html><html lang="de"><head><title>T</title></head><body><article><h1>T</h1>'
                    f"<p>{EN}</p><p>{EN}</p></article></body></html>", encoding="utf-8")
    assert load(str(page))[0].lang == "en"
    short = tmp_path / "short.html"
    short.write_text('<!doctype html><html lang="de"><head><title>T</title></head><body><article><h1>T</h1>'
                     "<p>Closed on Monday, open again on Tuesday at nine in the morning for everyone.</p>"
                     "</article></body></html>", encoding="utf-8")
    assert load(str(short))[0].lang == "de"


def test_too_little_text_stays_unknown(tmp_path: Path) -> None:
    short = tmp_path / "short.md"
    short.write_text("---\ntitle: Note\n---\n\nClosed on Monday.\n", encoding="utf-8")
    assert load(str(short))[0].lang is None
