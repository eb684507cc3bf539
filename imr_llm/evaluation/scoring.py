"""Old import path of the scoring functions, kept for callers outside the evaluation package.

The code lives in `normalise`, `matching`, `spans`, `facts`, `score` and `metrics`. Still
imported from here by `imr_llm.render.evalreport` (DATE_FIELDS, GOOD) and two tests
(test_evalreport, test_rules); delete this module once they import from the new homes.
"""

from imr_llm.evaluation.fields import DATE_FIELDS
from imr_llm.evaluation.metrics import aggregate
from imr_llm.evaluation.normalise import GOOD
from imr_llm.evaluation.score import score_letter
from imr_llm.evaluation.spans import provenance_validity

__all__ = [
    "DATE_FIELDS",
    "GOOD",
    "aggregate",
    "provenance_validity",
    "score_letter",
]
