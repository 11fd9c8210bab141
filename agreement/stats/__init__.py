"""Agreement statistics of paired measurements (predicted vs reference).

Differences are always ``predicted - reference``. See ``docs/statistics.md``.
"""

from __future__ import annotations

import sys
import types

from agreement.options import StatsOptions
from agreement.stats.bland_altman import BlandAltmanResult, bland_altman
from agreement.stats.ccc import CCCResult, ccc
from agreement.stats.compare import CompareResult, compare_methods
from agreement.stats.coverage import CoverageResult, coverage_probability
from agreement.stats.equivalence import TOSTResult, tost
from agreement.stats.icc import ICCResult, icc
from agreement.stats.registry import STATISTICS, Statistic
from agreement.stats.table import agreement_table
from agreement.stats.tdi import TDIResult, tdi

__all__ = [
    "BlandAltmanResult",
    "CCCResult",
    "CompareResult",
    "CoverageResult",
    "ICCResult",
    "STATISTICS",
    "Statistic",
    "StatsOptions",
    "TDIResult",
    "TOSTResult",
    "agreement_table",
    "bland_altman",
    "ccc",
    "compare_methods",
    "coverage_probability",
    "icc",
    "tdi",
    "tost",
]


class _StatsModule(types.ModuleType):
    """Keep ``ccc``, ``tdi`` and ``bland_altman`` the functions, not their same-named modules.

    A second import of e.g. ``agreement/stats/ccc.py`` (pytest's importlib mode does this
    when it collects doctests) would set the package attribute ``ccc`` to the module.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in __all__ and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _StatsModule
