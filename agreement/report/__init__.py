"""The self-contained HTML report: statistics, figures and tables in one folder.

:func:`build_report` assembles a report folder from the tables; :func:`demo_data` locates the
bundled demo cohort. The CLI is ``agree report`` and ``agree demo`` (docs/report.md).
"""

from __future__ import annotations

from agreement.report.build import AGREEMENT_KEYS, SUMMARY_KEYS, best_method, build_report
from agreement.report.demo import DemoData, demo_data

__all__ = [
    "AGREEMENT_KEYS",
    "SUMMARY_KEYS",
    "DemoData",
    "best_method",
    "build_report",
    "demo_data",
]
