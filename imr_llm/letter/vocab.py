"""The letters' own vocabulary, shared by every layer: decisions and template names."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

Format = Literal["dwc-2014", "dwc-2013", "dwc-fdl", "professional-review", "unknown"]


class Decision(StrEnum):
    """The IMR decision on one disputed item, in the letters' vocabulary."""

    UPHELD = "upheld"  # the UR denial stands: NOT medically necessary
    OVERTURNED = "overturned"  # the UR denial is reversed: medically necessary
