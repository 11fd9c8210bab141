"""SUVbw factors against QIBA's vendor-neutral pseudo-code, worked by hand.

Source of the formula: QIBA, "Standardized Uptake Value (SUV)" profile page, vendor-neutral
pseudo-code for SUVbw ("happy path"): decayed dose = RadionuclideTotalDose × 2^(−Δt/half-life),
SUVbwScaleFactor = PatientWeight × 1000 / decayed dose; CNTS uses the Philips private SUV
scale factor (7053,1000), or (7053,1009) then the BQML formula; GML is SUV already.
Worked examples with published numbers: cornerstonejs/calculate-suv,
test/calculateSUVScalingFactors.test.ts (a QIBA implementation; its inputs and expected
factors are repeated below).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agreement.dicom import suv_factor
from agreement.errors import InputError


@pytest.fixture
def pet(tmp_path, synthetic_dicom):
    """Write a 6-slice 8×8 PET series with header overrides; return (headers, first path)."""
    s = synthetic_dicom
    counter = iter(range(1000))

    def make(per_slice=None, **overrides):
        folder = tmp_path / f"pet{next(counter)}"
        paths = s.image_series(folder, "PT", np.ones((8, 8, 6), np.int16), study=s.new_study(),
                               frame=s.generate_uid(), header=s.pet_header(**overrides),
                               per_slice=per_slice)  # fmt: skip
        return s.read(paths), paths[0]

    return make


def radiopharm(**overrides):
    base = {"RadionuclideTotalDose": "370000000", "RadionuclideHalfLife": "6586.2",
            "RadiopharmaceuticalStartTime": "090000"}  # fmt: skip
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_qiba_bqml_start_worked_example(pet):
    # 70 kg, 370 MBq F-18 injected 09:00:00, series 10:00:00: Δt = 3600 s, T½ = 6586.2 s.
    # By hand: 3600 / 6586.2 = 0.546597; 2^-0.546597 = 0.684633; decayed dose 253.3142 MBq;
    # factor = 70 000 g / 253 314 180 Bq = 2.763367e-4 g/Bq (5 kBq/ml is SUV 1.38168).
    expected = 70 * 1000 / (370e6 * math.pow(2, -3600 / 6586.2))
    assert expected == pytest.approx(2.763367e-4, rel=1e-6)
    headers, path = pet()
    res = suv_factor(headers, path)
    assert res.factor == pytest.approx(expected, rel=1e-12)
    assert res.derived["decay_time_s"] == 3600
    assert res.derived["decay_factor"] == pytest.approx(0.684633, rel=1e-6)
    assert res.tags["PatientWeight"] == "70" and res.tags["Units"] == "BQML"


def test_start_uses_the_earlier_of_series_and_acquisition_time(pet):
    # A post-processed series carries a later SeriesTime (10:30): the earliest
    # AcquisitionTime of the slices (10:00:00 on slice 3, later on the others) is the start.
    times = ["100500", "100400", "100000", "100300", "100200", "100100"]
    headers, path = pet(SeriesTime="103000", per_slice={"AcquisitionTime": times})
    res = suv_factor(headers, path)
    assert res.derived["decay_time_s"] == 3600
    assert res.derived["scan_time_from"].startswith("AcquisitionDate/Time")
    # and a SeriesTime earlier than every acquisition wins
    headers, path = pet(SeriesTime="095000", AcquisitionTime="100000")
    assert suv_factor(headers, path).derived["decay_time_s"] == 3000


def test_admin_means_no_decay(pet):
    # cornerstonejs/calculate-suv: DecayCorrection ADMIN, 75 kg, 100 Bq -> suvbw 750
    headers, path = pet(DecayCorrection="ADMIN", PatientWeight="75",
                        radiopharm=radiopharm(RadionuclideTotalDose="100"))  # fmt: skip
    assert suv_factor(headers, path).factor == pytest.approx(750.0)


def test_gml_is_suv_already(pet):
    headers, path = pet(Units="GML", PatientWeight=None)
    assert suv_factor(headers, path).factor == 1.0


def test_cnts_uses_the_philips_suv_scale_factor(pet):
    # cornerstonejs/calculate-suv: CNTS with SUVScaleFactor 0.000551 -> suvbw 0.000551
    headers, path = pet(Units="CNTS", private={0x00: "0.000551", 0x09: "1.602563"})
    res = suv_factor(headers, path)
    assert res.factor == pytest.approx(0.000551)
    assert res.tags["PhilipsSUVScaleFactor"] == "0.000551"


def test_cnts_activity_scale_then_bqml(pet):
    # cornerstonejs/calculate-suv: CNTS, SUVScaleFactor 0, ActivityConcentrationScaleFactor
    # 1.602563, ADMIN, 100 kg, 100 Bq -> suvbw 1602.563 (= 1.602563 × 100 000 / 100)
    headers, path = pet(Units="CNTS", DecayCorrection="ADMIN", PatientWeight="100",
                        private={0x00: "0", 0x09: "1.602563"},
                        radiopharm=radiopharm(RadionuclideTotalDose="100"))  # fmt: skip
    assert suv_factor(headers, path).factor == pytest.approx(1602.563)


def test_midnight_crossing_rolls_the_injection_date_back(pet):
    # injected 23:50:00, series 00:10:00 the next day: Δt = 20 min, not -23 h 40 min
    headers, path = pet(SeriesDate="20240316", SeriesTime="001000", AcquisitionDate="20240316",
                        AcquisitionTime="001000",
                        radiopharm=radiopharm(RadiopharmaceuticalStartTime="235000"))  # fmt: skip
    res = suv_factor(headers, path)
    assert res.derived["decay_time_s"] == 1200
    assert res.derived["injection_datetime"] == "2024-03-15T23:50:00"
    assert res.factor == pytest.approx(70_000 / (370e6 * 2 ** (-1200 / 6586.2)), rel=1e-12)


def test_start_datetime_wins_over_start_time(pet):
    headers, path = pet(SeriesDate="20240316", SeriesTime="001000", AcquisitionDate="20240316",
                        AcquisitionTime="001000",
                        radiopharm=radiopharm(RadiopharmaceuticalStartTime="235000",
                                              RadiopharmaceuticalStartDateTime="20240315233000"))  # fmt: skip
    res = suv_factor(headers, path)
    assert res.derived["decay_time_s"] == 2400
    assert res.derived["injection_time_from"] == "RadiopharmaceuticalStartDateTime"


@pytest.mark.parametrize(
    ("overrides", "tag"),
    [
        ({"PatientWeight": None}, "PatientWeight (0010,1030) missing"),
        ({"PatientWeight": "0"}, "PatientWeight (0010,1030) is 0"),
        ({"radiopharm": radiopharm(RadionuclideTotalDose=None)}, "RadionuclideTotalDose (0018,1074)"),
        ({"radiopharm": radiopharm(RadionuclideHalfLife=None)}, "RadionuclideHalfLife (0018,1075)"),
        ({"radiopharm": radiopharm(RadiopharmaceuticalStartTime=None)},
         "RadiopharmaceuticalStartTime (0018,1072)"),
        ({"radiopharm": None}, "RadiopharmaceuticalInformationSequence (0054,0016)"),
        ({"SeriesTime": None}, "SeriesTime (0008,0031)"),
        ({"Units": None}, "Units (0054,1001) missing"),
        ({"Units": "PROPCNTS"}, "Units (0054,1001) 'PROPCNTS' is not supported"),
        ({"DecayCorrection": None}, "DecayCorrection (0054,1102) missing"),
        ({"DecayCorrection": "NONE"}, "DecayCorrection (0054,1102) 'NONE' is not supported"),
        ({"CorrectedImage": None}, "CorrectedImage (0028,0051) missing"),
        ({"CorrectedImage": ["ATTN", "SCAT"]}, "CorrectedImage (0028,0051) is ATTN/SCAT"),
        ({"CorrectedImage": ["DECY"]}, "CorrectedImage (0028,0051) is DECY, needs ATTN"),
        ({"Units": "CNTS"}, "PhilipsSUVScaleFactor (7053,1000) missing"),
        ({"radiopharm": radiopharm(RadiopharmaceuticalStartDateTime="20240315110000")},
         "RadiopharmaceuticalStartDateTime (0018,1078) 2024-03-15 11:00:00 is after the scan"),
    ],
)  # fmt: skip
def test_refusals_name_the_file_and_the_tag(pet, overrides, tag):
    headers, path = pet(**overrides)
    for ds in headers:  # a None override means: the tag is absent
        for key, value in overrides.items():
            if value is None and key != "radiopharm" and key in ds:
                delattr(ds, key)
    with pytest.raises(InputError) as info:
        suv_factor(headers, path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and tag in message
    assert "\n" not in message
