"""Body-weight SUV factor of a PET series, as QIBA's vendor-neutral pseudo-code specifies.

``SUVbw = (stored × RescaleSlope + RescaleIntercept) × factor`` per slice, with

* Units ``BQML``: ``factor = PatientWeight [kg] × 1000 / decayed dose [Bq]``; the decayed dose is
  ``RadionuclideTotalDose × 2^(−Δt / RadionuclideHalfLife)`` for DecayCorrection ``START``
  (Δt from injection to the scan start: the earlier of the series time and the earliest
  acquisition time) and the undecayed dose for ``ADMIN`` (already corrected to injection time);
* Units ``CNTS``: the Philips private SUV scale factor (7053,1000), or the private activity
  concentration factor (7053,1009) (counts → Bq/ml) followed by the ``BQML`` formula;
* Units ``GML``: the pixels are SUVbw already, ``factor = 1``.

Anything else raises :class:`~agreement.errors.InputError` naming the file and the tag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agreement.errors import InputError

PHILIPS_GROUP = "Philips PET Private Group"
TAGS = {
    "Units": "(0054,1001)",
    "CorrectedImage": "(0028,0051)",
    "DecayCorrection": "(0054,1102)",
    "PatientWeight": "(0010,1030)",
    "RadiopharmaceuticalInformationSequence": "(0054,0016)",
    "RadionuclideTotalDose": "(0018,1074)",
    "RadionuclideHalfLife": "(0018,1075)",
    "RadiopharmaceuticalStartDateTime": "(0018,1078)",
    "RadiopharmaceuticalStartTime": "(0018,1072)",
    "SeriesDate": "(0008,0021)",
    "SeriesTime": "(0008,0031)",
    "AcquisitionDate": "(0008,0022)",
    "AcquisitionTime": "(0008,0032)",
    "PhilipsSUVScaleFactor": "(7053,1000)",
    "PhilipsActivityConcentrationScaleFactor": "(7053,1009)",
}


@dataclass(frozen=True)
class SUVFactor:
    """The SUVbw factor of a series and every DICOM value it used.

    ``tags`` maps DICOM keywords to the values read (as text); ``derived`` holds the scan and
    injection date-times, the decay time (s) and the decay factor where they apply.
    """

    factor: float
    units: str
    decay_correction: str
    tags: dict[str, str] = field(default_factory=dict)
    derived: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Flat dict: ``suv_factor``, the tags by keyword, the derived values."""
        out = asdict(self)
        return {"suv_factor": out["factor"], **out["tags"], **out["derived"]}


class _Reader:
    """Reads tags of one file, remembering what it read; errors name the file and the tag."""

    def __init__(self, ds: Any, path: Path) -> None:
        self.ds, self.path, self.used = ds, path, {}

    def fail(self, keyword: str, problem: str) -> InputError:
        return InputError(f"{self.path}: {keyword} {TAGS[keyword]} {problem}")

    def get(self, keyword: str, *, source: Any = None, required: bool = True) -> Any:
        source = self.ds if source is None else source
        value = source.get(keyword)
        if value is None or value == "":
            if required:
                raise self.fail(keyword, "missing")
            return None
        self.used[keyword] = "\\".join(map(str, value)) if _multi(value) else str(value)
        return value

    def positive(self, keyword: str, *, source: Any = None) -> float:
        value = self.get(keyword, source=source)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail(keyword, f"is not a number ({value!r})") from None
        if not number > 0:
            raise self.fail(keyword, f"is {value}, must be positive")
        return number


def _multi(value: Any) -> bool:
    return not isinstance(value, str | bytes) and hasattr(value, "__iter__")


def _datetime(date: str, time: str) -> dt.datetime:
    """DICOM DA + TM (``HHMMSS.FFFFFF``, parts optional) to a naive datetime."""
    time = time.strip()
    whole, _, frac = time.partition(".")
    whole = whole.replace(":", "").ljust(6, "0")
    micro = int((frac + "000000")[:6]) if frac else 0
    day = dt.datetime.strptime(date.strip().replace(".", "")[:8], "%Y%m%d")
    return day.replace(hour=int(whole[:2]), minute=int(whole[2:4]), second=int(whole[4:6]),
                       microsecond=micro)  # fmt: skip


def _dt_value(text: str) -> dt.datetime:
    """DICOM DT (``YYYYMMDDHHMMSS.FFFFFF``, offset ignored) to a naive datetime."""
    text = str(text).strip().split("+")[0].split("-")[0]
    return _datetime(text[:8], text[8:] or "000000")


def _private(ds: Any, element: int) -> Any:
    """Value of a Philips PET private element (7053,10xx), or None."""
    try:
        block = ds.private_block(0x7053, PHILIPS_GROUP)
        elem = block[element] if element in block else None
    except KeyError:
        elem = None
    if elem is None:
        elem = ds.get((0x7053, 0x1000 + element))
    if elem is None:
        return None
    value = elem.value
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").strip("\x00 ")
    return value


def _number(value: Any) -> float:
    """A private DS value as a float; 0 when absent or unreadable."""
    try:
        return float(value) if value not in (None, "") else 0.0
    except (TypeError, ValueError):
        return 0.0


def _scan_start(reader: _Reader, headers: Sequence[Any]) -> tuple[dt.datetime, str]:
    """The earlier of SeriesDate/Time and the earliest AcquisitionDate/Time of the series."""
    series = _datetime(str(reader.get("SeriesDate")), str(reader.get("SeriesTime")))
    acquisitions = []
    for ds in headers:
        date, time = ds.get("AcquisitionDate"), ds.get("AcquisitionTime")
        if date and time:
            acquisitions.append((_datetime(str(date), str(time)), str(date), str(time)))
    if acquisitions:
        first = min(acquisitions)
        reader.used["AcquisitionDate"], reader.used["AcquisitionTime"] = first[1], first[2]
        if first[0] < series:
            return first[0], "AcquisitionDate/Time (earliest in series)"
    return series, "SeriesDate/Time"


def _injection(reader: _Reader, item: Any, scan: dt.datetime) -> tuple[dt.datetime, str]:
    """RadiopharmaceuticalStartDateTime, else StartTime on the series date (a day earlier when
    that falls after the scan: injection before midnight, scan after)."""
    stamp = reader.get("RadiopharmaceuticalStartDateTime", source=item, required=False)
    if stamp is not None:
        try:
            return _dt_value(str(stamp)), "RadiopharmaceuticalStartDateTime"
        except ValueError:
            raise reader.fail(
                "RadiopharmaceuticalStartDateTime", f"unreadable ({stamp!r})"
            ) from None
    time = reader.get("RadiopharmaceuticalStartTime", source=item)
    injection = _datetime(str(reader.get("SeriesDate")), str(time))
    if injection > scan:
        return injection - dt.timedelta(days=1), "RadiopharmaceuticalStartTime (previous day)"
    return injection, "RadiopharmaceuticalStartTime"


def _bqml_factor(reader: _Reader, headers: Sequence[Any], decay: str) -> tuple[float, dict]:
    weight = reader.positive("PatientWeight")
    sequence = reader.ds.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        raise reader.fail("RadiopharmaceuticalInformationSequence", "missing")
    item = sequence[0]
    dose = reader.positive("RadionuclideTotalDose", source=item)
    if decay == "ADMIN":
        return weight * 1000.0 / dose, {"decay_factor": 1.0}
    half_life = reader.positive("RadionuclideHalfLife", source=item)
    try:
        scan, scan_source = _scan_start(reader, headers)
    except ValueError as exc:
        raise reader.fail("SeriesTime", f"or a date/time beside it unreadable ({exc})") from None
    try:
        injection, injection_source = _injection(reader, item, scan)
    except ValueError as exc:
        raise reader.fail("RadiopharmaceuticalStartTime", f"unreadable ({exc})") from None
    seconds = (scan - injection).total_seconds()
    if seconds < 0:
        raise reader.fail("RadiopharmaceuticalStartDateTime",
                          f"{injection:%Y-%m-%d %H:%M:%S} is after the scan start "
                          f"{scan:%Y-%m-%d %H:%M:%S}")  # fmt: skip
    decay_factor = 2.0 ** (-seconds / half_life)
    derived = {
        "scan_datetime": scan.isoformat(), "scan_time_from": scan_source,
        "injection_datetime": injection.isoformat(), "injection_time_from": injection_source,
        "decay_time_s": seconds, "decay_factor": decay_factor,
    }  # fmt: skip
    return weight * 1000.0 / (dose * decay_factor), derived


def suv_factor(headers: Sequence[Any], path: str | Path = "<series>") -> SUVFactor:
    """QIBA body-weight SUV factor of a PET series.

    Parameters
    ----------
    headers : sequence of pydicom Dataset
        The slices of one series (any order); series-level tags are read from the first.
    path : path
        The file named in error messages (the first file of the series).

    Returns
    -------
    SUVFactor
        Multiply the rescaled pixel values (``stored × RescaleSlope + RescaleIntercept``,
        slice by slice) by ``factor`` to get SUVbw.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.Units, ds.CorrectedImage, ds.DecayCorrection = "GML", ["ATTN", "DECY"], "START"
    >>> suv_factor([ds]).factor
    1.0
    """
    if not headers:
        raise InputError(f"{path}: no PET slices")
    reader = _Reader(headers[0], Path(path))
    corrected = reader.get("CorrectedImage")
    corrections = {
        str(v).strip().upper() for v in (corrected if _multi(corrected) else [corrected])
    }
    if "ATTN" not in corrections or not corrections & {"DECY", "DECAY"}:
        found = "/".join(sorted(corrections))
        raise reader.fail("CorrectedImage", f"is {found}, needs ATTN and DECY")
    decay = str(reader.get("DecayCorrection")).strip().upper()
    if decay not in ("START", "ADMIN"):
        raise reader.fail("DecayCorrection", f"{decay!r} is not supported (START or ADMIN)")
    units = str(reader.get("Units")).strip().upper()
    derived: dict[str, object] = {}
    if units == "GML":
        factor = 1.0
    elif units == "BQML":
        factor, derived = _bqml_factor(reader, headers, decay)
    elif units == "CNTS":
        suv_scale = _number(_private(reader.ds, 0x00))
        activity_scale = _number(_private(reader.ds, 0x09))
        if suv_scale > 0:
            reader.used["PhilipsSUVScaleFactor"] = str(suv_scale)
            factor = suv_scale
        elif activity_scale > 0:
            reader.used["PhilipsActivityConcentrationScaleFactor"] = str(activity_scale)
            bqml, derived = _bqml_factor(reader, headers, decay)
            factor = activity_scale * bqml
        else:
            raise reader.fail("PhilipsSUVScaleFactor",
                              "missing or not positive, needed with Units CNTS")  # fmt: skip
    else:
        raise reader.fail("Units", f"{units!r} is not supported (BQML, CNTS or GML)")
    return SUVFactor(factor, units, decay, dict(reader.used), derived)
