"""Agreement of clinical PET measures from predicted lesion masks with the reference.

The primary API of the toolkit. Statistics on paired numbers (``ccc``, ``tost``,
``bland_altman``, ``coverage_probability``, ``tdi``, ``agreement_table``,
``compare_methods``), measures from masks (``quantify``, ``lesions``, ``overlap``,
``detect``, ``load_volume``, ``measure_cohort``) and the tidy tables that connect them
(``read_measurements``, ``write_measurements``).

Names are imported on first use, so ``import agreement`` and the ``agree`` CLI start fast.
``agreement`` never imports torch or monai.

Examples
--------
>>> import agreement
>>> agreement.ccc([1.0, 2.0, 3.1, 4.2], [1.1, 2.0, 2.9, 4.0]).n
4
"""

from __future__ import annotations

from agreement._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # statistics
    "ccc": "agreement.stats.ccc",
    "tost": "agreement.stats",
    "bland_altman": "agreement.stats.bland_altman",
    "coverage_probability": "agreement.stats",
    "tdi": "agreement.stats.tdi",
    "icc": "agreement.stats",
    "ICCResult": "agreement.stats",
    "STATISTICS": "agreement.stats",
    "agreement_table": "agreement.stats",
    "compare_methods": "agreement.stats",
    # result classes (frozen dataclasses)
    "CCCResult": "agreement.stats",
    "TOSTResult": "agreement.stats",
    "BlandAltmanResult": "agreement.stats",
    "CoverageResult": "agreement.stats",
    "TDIResult": "agreement.stats",
    "CompareResult": "agreement.stats",
    "DetectionResult": "agreement.measures.detection",
    "CaseResult": "agreement.measures.case",
    "CohortResult": "agreement.measures.cohort",
    "Volume": "agreement.measures.io",
    "StatsOptions": "agreement.options",
    # compute once, render many
    "analyse": "agreement.analysis",
    "Analysis": "agreement.analysis",
    "write_report": "agreement.report.build",
    # tables
    "read_measurements": "agreement.tables",
    "write_measurements": "agreement.tables",
    "read_table": "agreement.tables",
    "write_table": "agreement.tables",
    # measures
    "load_volume": "agreement.measures.io",
    "lesions": "agreement.measures.lesions",
    "quantify": "agreement.measures.quantify",
    "overlap": "agreement.measures.overlap",
    "detect": "agreement.measures.detection",
    "dmax": "agreement.measures.dmax",
    "measure_case": "agreement.measures.case",
    "measure_cohort": "agreement.measures.cohort",
    "MeasureOptions": "agreement.measures.options",
    # summaries
    "detection_table": "agreement.summary",
    "dsc_by_scenario": "agreement.summary",
    "scenario_groups": "agreement.summary",
    "tmtv_thresholds": "agreement.summary",
    "dsc_by_tmtv_threshold": "agreement.summary",
    "dmax_quartile_groups": "agreement.summary",
    "dsc_by_dmax_quartile": "agreement.summary",
    # errors
    "InputError": "agreement.errors",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
