"""Synthetic rule sets and case histories for Daxing-style grid dispatch, seeded and byte-stable.

`write_ruleset(out_dir, scale, seed)` writes a rule-set directory (the committed one is
`rules/daxing`); `write_cases(ruleset_dir, out_csv, n, seed)` writes a case history for any
rule-set directory. `python -m dispatch.synth --help` is the command line.
"""

from dispatch.synth.cases import write_cases
from dispatch.synth.ruleset import DEFAULT_SEED, write_ruleset

__all__ = ["DEFAULT_SEED", "write_cases", "write_ruleset"]
