"""The six patient-level clinical measures of a mask (seed 000, appendix C)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from agreement.measures.lesions import LabelledMask, analyse, as_mask, check_pair
from agreement.measures.options import DEFAULT
from agreement.tables import METRICS


def measures_of(lm: LabelledMask) -> dict[str, float]:
    """The six measures from an already labelled mask (all 0 for an empty mask)."""
    total = int(lm.voxels.sum())
    if total == 0:
        return dict.fromkeys(METRICS, 0.0) | {"lesion_count": 0}
    return {
        "suv_max": float(lm.suv_max.max()),
        "suv_mean": float(lm.suv_sum.sum() / total),
        "tla": float(lm.suv_sum.sum() * lm.voxel_ml),
        "tmtv": float(total * lm.voxel_ml),
        "lesion_count": int(lm.n),
        "dmax": float(lm.dmax_all_mm / 10.0),
    }


def quantify(
    mask: ArrayLike, pet: ArrayLike, spacing: Sequence[float], *, connectivity: int = DEFAULT.connectivity
) -> dict[str, float]:
    """SUVmax, SUVmean, TLA, TMTV, lesion count and Dmax of a lesion mask.

    Parameters
    ----------
    mask : array_like of bool or 0/1, 3-D
    pet : array_like, same shape
        SUV values.
    spacing : sequence of float
        Voxel size in mm, in the array's axis order.
    connectivity : {6, 18, 26}
        For the lesion count (18, the papers' choice, by default).

    Returns
    -------
    dict
        ``suv_max`` (max SUV in the mask), ``suv_mean`` (mean SUV over all mask voxels),
        ``tla`` (Σ SUVmean_i × V_i, SUV·ml), ``tmtv`` (ml), ``lesion_count``, ``dmax`` (cm,
        largest distance between two foreground voxel centres). All 0 for an empty mask.

    Examples
    --------
    >>> m = np.zeros((5, 5, 5), bool)
    >>> m[0, 0, 0] = m[0, 0, 4] = True
    >>> pet = np.full((5, 5, 5), 2.0)
    >>> q = quantify(m, pet, (2.0, 2.0, 2.5))
    >>> q["lesion_count"], q["tmtv"], q["tla"], q["dmax"]
    (2, 0.02, 0.04, 1.0)
    """
    m = as_mask(mask)
    p = np.asarray(pet)
    check_pair(m, p, "mask", "pet")
    return measures_of(analyse(m, p, spacing, connectivity))
