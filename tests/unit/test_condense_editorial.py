"""Editorial rules for teasers: coherent runs (no far jumps), headline elaboration kept, content-free filler
sentences skipped, update time stamps cleaned. Fixtures are written here, not taken from the dev corpus."""

from __future__ import annotations

import dataclasses

from digest.condense.select import DEFAULT, Candidate, pack


def _cand(index: int, chars: int, score: float) -> Candidate:
    words = "word " * (chars // 5)
    text = ("S" + words)[: chars - 1].rstrip() + "."
    return Candidate(index, text, text, score=score)


def _jumpy_pool() -> list[Candidate]:
    # a 2-sentence lead that fits the budget, a nearby short sentence, and a far sentence (10 later)
    return [_cand(0, 148, 1.7), _cand(1, 149, 2.3), _cand(3, 64, 2.0), _cand(13, 85, 1.9)]


def test_far_jump_costs_and_the_lead_run_wins() -> None:
    chosen = pack(_jumpy_pool(), 300, DEFAULT)
    assert [c.index for c in chosen] == [0, 1]


def test_without_the_jump_cost_the_far_filler_is_picked() -> None:
    # the same pool without the penalty: score x length favours 1 + 3 + 13 (this is what the rule prevents)
    chosen = pack(_jumpy_pool(), 300, dataclasses.replace(DEFAULT, gap_penalty=0.0))
    assert [c.index for c in chosen] == [1, 3, 13]


def test_near_sentences_are_not_penalised() -> None:
    # 1 → 3 skips one sentence: below gap_min, so the best-value set (with a small gap) stays
    pool = [_cand(0, 100, 1.0), _cand(1, 140, 2.5), _cand(3, 150, 2.4)]
    chosen = pack(pool, 300, DEFAULT)
    assert [c.index for c in chosen] == [1, 3]


def test_a_far_sentence_that_is_much_better_still_wins() -> None:
    # the penalty is a cost, not a ban: a clearly better far sentence is still chosen
    pool = [_cand(0, 100, 0.5), _cand(1, 100, 0.5), _cand(9, 190, 3.0)]
    chosen = pack(pool, 300, DEFAULT)
    assert 9 in [c.index for c in chosen]
