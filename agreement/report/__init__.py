"""The self-contained HTML report: statistics, figures and tables in one folder.

:func:`write_report` writes a report folder from an :class:`~agreement.analysis.Analysis`;
:func:`demo_data` locates the bundled demo cohort. The CLI is ``agree report`` and ``agree demo``
(docs/report.md).
"""

from __future__ import annotations

from agreement.report.build import FigureDrawer, write_report
from agreement.report.demo import DemoData, demo_data

__all__ = ["DemoData", "FigureDrawer", "demo_data", "write_report"]
