#!/usr/bin/env python3
"""Compare HTML body extractors on the html-dev pages against their gold texts.

  python benchmarks/extractors.py [--corpus ../shared/corpus/html-dev] [--show] [--only NAME]

For each configuration: token precision / recall / F1 of the extracted body against ``gold_text`` (bag of words,
micro-averaged over pages), paragraph purity (the share of extracted paragraphs whose word 4-grams are at least
80 % in the gold text, the same test the teaser eval applies to sentences), first-paragraph purity (the teaser
mostly comes from the lead), pages with no text, milliseconds per page (median wall, parse included, imports
excluded) and CPU milliseconds per page (mean of time.process_time: the machine may be shared). Then the whole
path digest takes (``parse_html``: one parse, metadata, our extractor, its fallbacks) with how often the second
pass and the fallbacks ran. Titles: digest's ``pick_title`` against gold, exact and normalized. Prints a table;
figures go in docs/extractors.md.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digest.sources import html as H  # noqa: E402
from digest.sources.fetch import decode  # noqa: E402

CONFIGS: dict[str, tuple[str, dict]] = {
    "digest (own)": ("digest", {}),
    "readability-lxml (fallback)": ("readability", {}),
    "trafilatura precision": ("trafilatura", {}),
    "trafilatura default": ("trafilatura", {"favor_precision": False}),
    "trafilatura recall": ("trafilatura", {"favor_precision": False, "favor_recall": True}),
    "trafilatura precision+tables": ("trafilatura", {"include_tables": True}),
}


def words(text: str) -> list[str]:
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).split()


def grams(ws: list[str], n: int = 4) -> set[tuple[str, ...]]:
    return {tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)}


def para_pure(para: str, gold_grams: set, gold_words: set) -> bool:
    w = words(para)
    if not w:
        return True
    if len(w) < 4:
        return all(x in gold_words for x in w)
    g = grams(w)
    return len(g & gold_grams) / len(g) >= 0.8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(REPO.parent / "shared" / "corpus" / "html-dev"))
    ap.add_argument("--show", action="store_true", help="print impure paragraphs per configuration")
    ap.add_argument("--only", default="", help="run only the configurations whose name contains this")
    a = ap.parse_args()
    corpus = Path(a.corpus)
    lines = (corpus / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    gold = [json.loads(line) for line in lines if line.strip()]
    pages = {g["id"]: decode((corpus / f"{g['id']}.html").read_bytes())[0] for g in gold}

    import lxml.html

    # Warm the imports so they do not count as time per page.
    import readability  # noqa: F401
    import trafilatura  # noqa: F401

    exact = normal = 0
    titles: dict[str, str] = {}
    for g in gold:
        doc = lxml.html.document_fromstring(pages[g["id"]])
        title = titles[g["id"]] = H.page_metadata(doc)["title"]
        exact += title == H.norm(g["title"])
        normal += H._key(title) == H._key(g["title"])
        if a.show and H._key(title) != H._key(g["title"]):
            print(f"title {g['id']}: got {title!r} gold {g['title']!r}")
    print(f"titles: {exact}/{len(gold)} exact, {normal}/{len(gold)} normalized match gold\n")

    print(f"{'extractor':32} {'P':>6} {'R':>6} {'F1':>6} {'para%':>6} {'lead%':>6} {'empty':>5} {'ms/page':>8} "
          f"{'cpu ms':>7}")
    for name, (engine, opts) in CONFIGS.items():
        if a.only and a.only not in name:
            continue
        tp = n_ext = n_gold = 0
        pure = n_paras = lead_pure = empty = 0
        times: list[float] = []
        cpu: list[float] = []
        for g in gold:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                text = H.extract_body(pages[g["id"]], engine, title=titles[g["id"]], **opts)
            except Exception as exc:  # noqa: BLE001
                print(f"  {name} {g['id']}: {type(exc).__name__}: {exc}")
                text = ""
            times.append(1000 * (time.perf_counter() - t0))
            cpu.append(1000 * (time.process_time() - c0))
            ew, gw = Counter(words(text)), Counter(words(g["gold_text"]))
            tp += sum((ew & gw).values())
            n_ext += sum(ew.values())
            n_gold += sum(gw.values())
            gwl = words(g["gold_text"])
            gg, gs = grams(gwl), set(gwl)
            paras = [p for p in text.split("\n\n") if p.strip()]
            if not paras:
                empty += 1
            ok = [para_pure(p, gg, gs) for p in paras]
            pure += sum(ok)
            n_paras += len(ok)
            lead_pure += bool(ok) and ok[0]
            if a.show:
                for p, k in zip(paras, ok, strict=True):
                    if not k:
                        print(f"  [{name}] {g['id']}: {p[:110]!r}")
        p = tp / n_ext if n_ext else 0.0
        r = tp / n_gold if n_gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        print(f"{name:32} {100 * p:6.1f} {100 * r:6.1f} {100 * f1:6.1f} {100 * pure / max(n_paras, 1):6.1f} "
              f"{100 * lead_pure / len(gold):6.1f} {empty:5d} {statistics.median(times):8.1f} "
              f"{sum(cpu) / len(cpu):7.1f}")
    pipeline(pages)


def pipeline(pages: dict[str, str]) -> None:
    """The whole path digest takes for a page (parse once, metadata, our extractor, fallbacks): time and fallbacks."""
    H.COUNTS.clear()
    wall: list[float] = []
    cpu: list[float] = []
    for markup in pages.values():
        t0, c0 = time.perf_counter(), time.process_time()
        H.parse_html(markup, "page")
        wall.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(H.COUNTS.items())) or "none"
    print(f"\nparse_html (parse + metadata + body): median {statistics.median(wall):.1f} ms/page wall, "
          f"mean {sum(cpu) / len(cpu):.1f} ms/page CPU over {len(pages)} pages; second passes and fallbacks: {counts}")


if __name__ == "__main__":
    main()
