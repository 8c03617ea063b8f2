"""What a cleaning rule is: a named pattern with cheap pre-filters, so ``--explain`` can say which one fired and
most lines never reach the regex. The rules themselves are in ``clean.py``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A named cleaning rule. Besides its pattern, a rule may carry cheap necessary conditions that skip the
    regex on most lines, and a check on what it matched."""

    name: str
    pattern: re.Pattern[str]
    why: str
    needles: tuple[str, ...] = ()  # one of these literal substrings (lower case) must occur in the line
    precheck: re.Pattern[str] | None = None  # then this must match the lower-cased line (for slow patterns)
    digit_within: int = 0  # a digit must stand in the line's first N characters (date stamps)
    accept: Callable[[str], bool] | None = None  # the matched text must pass this (inline rules)
    # line rules whose keyword prose may mention: a long sentence with it is prose unless this says it still reads
    # as the rule's kind (a plea, a credit)
    still_reads_as: Callable[[str], bool] | None = None

    def search(self, line: str, low: str | None = None) -> re.Match[str] | None:
        """``pattern.search``, after the rule's pre-filters; ``low`` is ``line.lower()`` if the caller has it."""
        if self.digit_within and not any(d in line[:self.digit_within] for d in "0123456789"):
            return None
        if self.needles:
            low = line.lower() if low is None else low
            for n in self.needles:  # str.__contains__ is a fast C scan; a regex alternation is not
                if n in low:
                    break
            else:
                return None
            if self.precheck is not None and self.precheck.search(low) is None:
                return None
        return self.pattern.search(line)
