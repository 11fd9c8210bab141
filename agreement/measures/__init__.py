"""Image measures: read volumes, label lesions, quantify, overlap, detection, cohorts.

Examples
--------
>>> import numpy as np
>>> from agreement.measures import quantify
>>> m = np.zeros((4, 4, 4), bool); m[1, 1, 1:3] = True
>>> quantify(m, np.full(m.shape, 2.0), (2.0, 2.0, 2.0))["tmtv"]
0.016
"""

from __future__ import annotations

from agreement.measures.case import CaseResult, measure_case, scenario
from agreement.measures.cohort import CohortResult, measure_cohort
from agreement.measures.detection import DetectionResult, detect
from agreement.measures.dmax import dmax
from agreement.measures.io import Volume, check_same_grid, load_volume, resample_nearest
from agreement.measures.lesions import label, lesions
from agreement.measures.options import MeasureOptions
from agreement.measures.overlap import overlap
from agreement.measures.quantify import quantify

__all__ = [
    "CaseResult",
    "CohortResult",
    "DetectionResult",
    "MeasureOptions",
    "Volume",
    "check_same_grid",
    "detect",
    "dmax",
    "label",
    "lesions",
    "load_volume",
    "measure_case",
    "measure_cohort",
    "overlap",
    "quantify",
    "resample_nearest",
    "scenario",
]
