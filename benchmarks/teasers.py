#!/usr/bin/env python3
"""In-process teaser figures on the dev corpora, with two-fold tuning (no subprocess: fast to iterate).

  python benchmarks/teasers.py              # figures for the default Params, whole set and both folds
  python benchmarks/teasers.py --tune       # grid search on fold A → report on fold B, and swap
  python benchmarks/teasers.py --tune-gap   # the same for the jump cost only (gap_min x gap_penalty)
  python benchmarks/teasers.py --speed      # sentence splitter and teaser timings, pathological inputs

Reads ../shared (never copied). Uses the scoring functions of ../shared/eval/teasers.py so the figures
match what `python ../shared/eval/teasers.py` prints (that script remains the reference: it runs the CLI).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import itertools
import json
import sys
import time
from pathlib import Path

from digest.condense.select import DEFAULT, Params
from digest.condense.teaser import make_teaser
from digest.sources.text import parse_text

SHARED = Path(__file__).resolve().parents[2] / "shared"


def load_eval():
    spec = importlib.util.spec_from_file_location("teaser_eval", SHARED / "eval" / "teasers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fold_of(item_id: str) -> str:
    """A stable fold assignment from the id's hash (not from content): A or B."""
    return "A" if int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 2 == 0 else "B"


def news_rows() -> list[dict]:
    with open(SHARED / "corpus" / "news-dev.jsonl", encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def news_scores(ev, scorer, rows, params: Params, budget: int = 300) -> list[dict]:
    out = []
    for r in rows:
        art = parse_text(r["text"], r["id"] + ".txt")
        got = make_teaser(art, budget, params).text
        ours = scorer.score(r["reference"], "\n".join(ev.sentences(got)))
        base = scorer.score(r["reference"], "\n".join(ev.sentences(ev.lead(r["text"], budget))))
        out.append({"id": r["id"], "source": r["source"], "style": ev.style_ok(got, budget),
                    "ours": {k: v.fmeasure for k, v in ours.items()},
                    "lead": {k: v.fmeasure for k, v in base.items()}, "teaser": got})
    return out


def summarize(scored: list[dict]) -> dict:
    fig = {}
    for src in sorted({s["source"] for s in scored}):
        part = [s for s in scored if s["source"] == src]
        for system in ("lead", "ours"):
            for k in ("rouge1", "rouge2"):
                fig[f"{src}_{system}_{k}"] = round(100 * sum(s[system][k] for s in part) / len(part), 2)
        fig[f"{src}_ratio_r2"] = round(fig[f"{src}_ours_rouge2"] / fig[f"{src}_lead_rouge2"], 3)
        fig[f"{src}_ratio_r1"] = round(fig[f"{src}_ours_rouge1"] / fig[f"{src}_lead_rouge1"], 3)
        fig[f"{src}_n"] = len(part)
    fig["style_ok"] = round(100 * sum(s["style"] for s in scored) / len(scored), 1)
    return fig


def objective(fig: dict) -> float:
    """What tuning maximises: the smaller margin over its bar across the two sets (R-2 ratios)."""
    return min(fig["cnndm_ratio_r2"] / 1.20, fig["xsum_ratio_r2"] / 1.30) + 0.1 * (
        fig["cnndm_ratio_r2"] / 1.20 + fig["xsum_ratio_r2"] / 1.30)


def html_txt_purity(ev, budget: int = 300) -> tuple[float, list[str]]:
    d = SHARED / "corpus" / "html-dev"
    gold = [json.loads(x) for x in (d / "gold.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    pure, bad = 0, []
    for g in gold:
        art = parse_text((d / f"{g['id']}.txt").read_text(encoding="utf-8"), f"{g['id']}.txt")
        got = make_teaser(art, budget).text
        gw = ev.norm_words(g["gold_text"])
        gg, gs = ev.grams(gw, 4), set(gw)
        ok = bool(got.strip()) and all(ev.from_body(s, gg, gs) for s in ev.sentences(got)) and ev.style_ok(got, budget)
        pure += ok
        if not ok:
            bad.append(f"{g['id']}: {got}")
    return round(100 * pure / len(gold), 1), bad


GRID = {
    "pos_decay": [0.3, 0.5],
    "w_ent": [0.5, 1.0],
    "w_quote": [0.0, 0.5],
    "w_bigram": [0.0, 1.0],
    "compress": [(), ("attribution_tail", "lead_time")],
}

GAP_GRID = {
    "gap_min": [2, 3, 4, 5, 6],
    "gap_penalty": [0.5, 1.0, 2.0, 3.0],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--tune-gap", action="store_true")
    ap.add_argument("--show", type=int, default=0)
    a = ap.parse_args()
    ev = load_eval()
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
    rows = news_rows()
    folds = {f: [r for r in rows if fold_of(r["id"]) == f] for f in "AB"}
    if a.tune or a.tune_gap:
        grid = GAP_GRID if a.tune_gap else GRID
        results = {}
        for tune_on, report_on in (("A", "B"), ("B", "A")):
            best = None
            for values in itertools.product(*grid.values()):
                p = dataclasses.replace(DEFAULT, **dict(zip(grid, values, strict=True)))
                fig = summarize(news_scores(ev, scorer, folds[tune_on], p))
                if best is None or objective(fig) > best[0]:
                    best = (objective(fig), p, fig)
            held = summarize(news_scores(ev, scorer, folds[report_on], best[1]))
            results[f"tune_{tune_on}_report_{report_on}"] = {
                "params": {k: getattr(best[1], k) for k in grid}, "tuned_fold": best[2], "held_out_fold": held}
        print(json.dumps(results, indent=1))
        return
    t0 = time.perf_counter()
    scored = news_scores(ev, scorer, rows, DEFAULT)
    took = time.perf_counter() - t0
    out = {"whole": summarize(scored)}
    for f in "AB":
        out[f"fold_{f}"] = summarize([s for s in scored if fold_of(s["id"]) == f])
    out["purity_txt"], bad = html_txt_purity(ev)
    out["seconds_news_incl_rouge"] = round(took, 2)
    print(json.dumps(out, indent=1))
    for b in bad:
        print("IMPURE", b[:400], file=sys.stderr)
    for s in scored[: a.show]:
        print(s["id"], round(s["ours"]["rouge2"], 3), round(s["lead"]["rouge2"], 3), s["teaser"], file=sys.stderr)
    for s in scored:
        if not s["style"]:
            print("STYLE", s["id"], s["teaser"], file=sys.stderr)


if __name__ == "__main__":
    main()
