"""How masks are measured: one frozen object, its defaults defined once, here.

:func:`agreement.measure_cohort`, :func:`agreement.measure_case` and the ``agree measure`` /
``agree report`` commands take a :class:`MeasureOptions` whole; the CLI builds it once from its
flags and shows these defaults in its help.
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

CONNECTIVITIES = (6, 18, 26)
CRITERIA = ("suvmax", "overlap", "iou")
MISSING_POLICIES = ("skip", "empty", "fail")
COMPAT = (None, "reference")


@dataclass(frozen=True)
class MeasureOptions:
    """Every choice that decides the measured numbers (DESIGN §5), validated on creation.

    Attributes
    ----------
    connectivity : {6, 18, 26}
        Lesions are connected components with this connectivity (18, as in the papers).
    criterion : {"suvmax", "overlap", "iou"}
        Detection rule (see :func:`agreement.detect`).
    iou_threshold : float
        IoU in (0, 1] needed for a match with ``criterion="iou"``.
    compat : {None, "reference"}
        ``"reference"`` reproduces the published code's detection counts.
    label : int, optional
        Lesion label value (>= 1) in the reference and predicted masks (default: 0/1 masks).
    reference_label, pred_label : int, optional
        The label value of one side only; each defaults to ``label``.
    missing : {"skip", "empty", "fail"}
        A reference case without a prediction for a method: listed and not measured
        (``skip``), scored as an empty mask as the autoPET evaluation does (``empty``), or an
        :class:`~agreement.errors.InputError` (``fail``).
    resample : bool
        Resample predictions onto the reference grid (nearest neighbour) when they differ.
    roi : str
        RTSTRUCT masks (``.dcm``): shell pattern of the ROI names that make the lesion mask,
        case-insensitive.

    Examples
    --------
    >>> from agreement import MeasureOptions
    >>> opts = MeasureOptions(criterion="iou", iou_threshold=0.3, label=255)
    >>> opts.connectivity, opts.reference_value, opts.pred_value
    (18, 255, 255)
    >>> MeasureOptions(connectivity=8)
    Traceback (most recent call last):
    ...
    ValueError: connectivity must be 6, 18 or 26, got 8
    """

    connectivity: int = 18
    criterion: Literal["suvmax", "overlap", "iou"] = "suvmax"
    iou_threshold: float = 0.5
    compat: Literal["reference"] | None = None
    label: int | None = None
    reference_label: int | None = None
    pred_label: int | None = None
    missing: Literal["skip", "empty", "fail"] = "skip"
    resample: bool = False
    roi: str = "lesion*"

    def __post_init__(self) -> None:
        if isinstance(self.connectivity, bool) or self.connectivity not in CONNECTIVITIES:
            raise ValueError(f"connectivity must be 6, 18 or 26, got {self.connectivity!r}")
        object.__setattr__(self, "connectivity", int(self.connectivity))
        check_detection_args(self.criterion, self.iou_threshold, self.compat)
        object.__setattr__(self, "iou_threshold", float(self.iou_threshold))
        for name in ("label", "reference_label", "pred_label"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
            ):
                raise ValueError(f"{name} must be a positive lesion label value, got {value!r}")
            if value is not None:
                object.__setattr__(self, name, int(value))
        if self.missing not in MISSING_POLICIES:
            raise ValueError(
                f"missing must be one of {', '.join(MISSING_POLICIES)}, got {self.missing!r}"
            )
        if not isinstance(self.resample, bool):
            raise ValueError(f"resample must be True or False, got {self.resample!r}")
        if not isinstance(self.roi, str) or not self.roi:
            raise ValueError(f"roi must be a non-empty name pattern, got {self.roi!r}")

    @property
    def reference_value(self) -> int | None:
        """The lesion label value read from reference masks (None: 0/1 masks)."""
        return self.label if self.reference_label is None else self.reference_label

    @property
    def pred_value(self) -> int | None:
        """The lesion label value read from predicted masks (None: 0/1 masks)."""
        return self.label if self.pred_label is None else self.pred_label

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for ``provenance.json`` and the methods text)."""
        return dataclasses.asdict(self)


def check_detection_args(criterion: str, iou_threshold: float, compat: str | None) -> None:
    """Raise ValueError for an unknown criterion or compat, or an IoU outside (0, 1]."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}; got {criterion!r}")
    if isinstance(iou_threshold, bool) or not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    if compat not in COMPAT:
        raise ValueError(f"compat must be None or 'reference', got {compat!r}")


DEFAULT = MeasureOptions()
"""The defaults, for the signatures of the array functions (``detect``, ``quantify``, ...)."""


def with_legacy_keywords(
    options: MeasureOptions | None, legacy: Mapping[str, Any], function: str
) -> MeasureOptions:
    """``options`` updated by the keywords of the old signature, with a DeprecationWarning.

    ``measure_cohort(..., connectivity=6)`` still works for one release and means
    ``measure_cohort(..., options=MeasureOptions(connectivity=6))``.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     with_legacy_keywords(None, {"connectivity": 6}, "f").connectivity
    6
    >>> caught[0].category.__name__
    'DeprecationWarning'
    """
    base = MeasureOptions() if options is None else options
    if not legacy:
        return base
    if not isinstance(base, MeasureOptions):
        raise TypeError(f"{function}: options must be a MeasureOptions, got {type(base).__name__}")
    fields = {f.name for f in dataclasses.fields(MeasureOptions)}
    unknown = sorted(set(legacy) - fields)
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
    given = ", ".join(f"{k}={v!r}" for k, v in legacy.items())
    warnings.warn(
        f"{function}({', '.join(legacy)}=...) is deprecated; pass "
        f"options=MeasureOptions({given})",
        DeprecationWarning,
        stacklevel=3,
    )
    return dataclasses.replace(base, **legacy)
