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

import sys
import types

from agreement._lazy import lazy_exports

# Imported on first use, so that the CLI (which needs only MeasureOptions at import time)
# starts without numpy, pandas or cc3d.
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "CaseResult": "agreement.measures.case",
        "measure_case": "agreement.measures.case",
        "scenario": "agreement.measures.case",
        "CohortResult": "agreement.measures.cohort",
        "measure_cohort": "agreement.measures.cohort",
        "DetectionResult": "agreement.measures.detection",
        "detect": "agreement.measures.detection",
        "dmax": "agreement.measures.dmax",
        "Volume": "agreement.measures.io",
        "check_same_grid": "agreement.measures.io",
        "load_volume": "agreement.measures.io",
        "resample_nearest": "agreement.measures.io",
        "label": "agreement.measures.lesions",
        "lesions": "agreement.measures.lesions",
        "MeasureOptions": "agreement.measures.options",
        "overlap": "agreement.measures.overlap",
        "quantify": "agreement.measures.quantify",
    },
)


class _MeasuresModule(types.ModuleType):
    """Keep ``dmax``, ``lesions``, ``overlap`` and ``quantify`` the functions, not their modules.

    Importing the submodule ``agreement/measures/dmax.py`` sets the package attribute ``dmax``
    to the module; the public name is the function, resolved lazily.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in __all__ and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _MeasuresModule
