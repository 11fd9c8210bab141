"""Synthetic tables with the contract columns (COMMON.md), independent of agreement.stats."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

AGREEMENT_COLUMNS = [
    "method",
    "metric",
    "network",
    "loss",
    "unit",
    "n",
    "ccc",
    "ccc_ci_low",
    "ccc_ci_high",
    "ccc_pearson_r",
    "ccc_accuracy",
    "ccc_strength",
    "tost_mean_diff",
    "tost_ci_low",
    "tost_ci_high",
    "tost_lower",
    "tost_upper",
    "tost_p_lower",
    "tost_p_upper",
    "tost_p",
    "equivalent",
    "ba_bias",
    "ba_sd",
    "ba_loa_low",
    "ba_loa_high",
    "ba_bias_ci_low",
    "ba_bias_ci_high",
    "ba_loa_low_ci_low",
    "ba_loa_low_ci_high",
    "ba_loa_high_ci_low",
    "ba_loa_high_ci_high",
    "ba_slope",
    "ba_slope_p",
    "cp",
    "cp_ci_low",
    "cp_ci_high",
    "tdi",
    "tdi_ci_high",
    "mean_reference",
    "note",
]
METRICS = {
    "suv_max": "SUV",
    "suv_mean": "SUV",
    "tla": "SUV·ml",
    "tmtv": "ml",
    "lesion_count": "count",
    "dmax": "cm",
}
NETWORKS = ["unet", "attention_unet", "segresnet"]
LOSSES = ["dice", "dice_ce", "dice_focal", "l1dfl"]


def paper_methods() -> list[str]:
    return [f"{n}/{loss}" for n in NETWORKS for loss in LOSSES]


def make_measurements(methods: list[str], n_cases: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    refs = {m: rng.gamma(2.0, 5.0, n_cases) + 1 for m in METRICS}
    refs["lesion_count"] = rng.integers(1, 6, n_cases).astype(float)
    for method in methods:
        for metric, unit in METRICS.items():
            pred = refs[metric] * rng.normal(1.0, 0.15, n_cases)
            for i in range(n_cases):
                rows.append(
                    {
                        "case_id": f"c{i:02d}",
                        "method": method,
                        "metric": metric,
                        "reference": refs[metric][i],
                        "predicted": pred[i],
                        "unit": unit,
                    }
                )
    return pd.DataFrame(rows)


def make_agreement(methods: list[str], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for method in methods:
        network, loss = method.split("/", 1) if "/" in method else (np.nan, np.nan)
        for metric, unit in METRICS.items():
            mean_ref = 10.0
            diff = rng.normal(0, 1.5)
            half = abs(rng.normal(1.0, 0.3))
            equivalent = bool(abs(diff) + half < 2.0)
            cp = rng.uniform(0.3, 0.9)
            rows.append(
                {
                    "method": method,
                    "metric": metric,
                    "network": network,
                    "loss": loss,
                    "unit": unit,
                    "n": 12,
                    "ccc": rng.uniform(0.6, 0.99),
                    "ccc_ci_low": 0.5,
                    "ccc_ci_high": 0.99,
                    "ccc_pearson_r": 0.9,
                    "ccc_accuracy": 0.95,
                    "ccc_strength": "poor",
                    "tost_mean_diff": diff,
                    "tost_ci_low": diff - half,
                    "tost_ci_high": diff + half,
                    "tost_lower": -0.2 * mean_ref,
                    "tost_upper": 0.2 * mean_ref,
                    "tost_p_lower": 0.01,
                    "tost_p_upper": 0.02,
                    "tost_p": 0.02,
                    "equivalent": equivalent,
                    "ba_bias": diff,
                    "ba_sd": 1.0,
                    "ba_loa_low": diff - 1.96,
                    "ba_loa_high": diff + 1.96,
                    "ba_bias_ci_low": diff - 0.5,
                    "ba_bias_ci_high": diff + 0.5,
                    "ba_loa_low_ci_low": diff - 2.8,
                    "ba_loa_low_ci_high": diff - 1.2,
                    "ba_loa_high_ci_low": diff + 1.2,
                    "ba_loa_high_ci_high": diff + 2.8,
                    "ba_slope": 0.01,
                    "ba_slope_p": 0.5,
                    "cp": cp,
                    "cp_ci_low": cp - 0.15,
                    "cp_ci_high": min(cp + 0.1, 1.0),
                    "tdi": rng.uniform(1, 5),
                    "tdi_ci_high": 6.0,
                    "mean_reference": mean_ref,
                    "note": "",
                }
            )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def make_cases(methods: list[str], n_cases: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_ref = rng.integers(1, 5, n_cases)
    rows = []
    for method in methods:
        for i in range(n_cases):
            tp = int(rng.integers(0, n_ref[i] + 1))
            fp = int(rng.integers(0, 3))
            fn = int(n_ref[i] - tp)
            rows.append(
                {
                    "case_id": f"c{i:02d}",
                    "method": method,
                    "dsc": rng.uniform(0.2, 0.95),
                    "fpv": rng.exponential(2.0),
                    "fnv": rng.exponential(3.0),
                    "tp": tp,
                    "fp": fp,
                    "fn": fn,
                    "f1": tp / (tp + 0.5 * (fp + fn)) if tp + fp + fn else np.nan,
                    "n_reference_lesions": int(n_ref[i]),
                    "n_predicted_lesions": tp + fp,
                    "scenario": "single" if n_ref[i] == 1 else "multiple",
                    "fold": i % 3,
                }
            )
    return pd.DataFrame(rows)


def make_lesions(cases: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    volumes = {}
    for _, c in cases.iterrows():
        for j in range(int(c["n_reference_lesions"])):
            vol = volumes.setdefault((c["case_id"], j), float(rng.gamma(1.5, 4.0)))
            status = "tp" if j < c["tp"] else "fn"
            rows.append(
                {
                    "case_id": c["case_id"],
                    "method": c["method"],
                    "side": "reference",
                    "lesion_id": j + 1,
                    "voxels": 10,
                    "volume": vol,
                    "suv_max": 10.0,
                    "suv_mean": 5.0,
                    "tla": 5 * vol,
                    "dmax": 1.0,
                    "status": status,
                    "matched_id": 1 if status == "tp" else np.nan,
                    "lesion_dsc": rng.uniform(0.3, 0.9) if status == "tp" else np.nan,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def paper_tables():
    methods = paper_methods()
    cases = make_cases(methods)
    return {
        "measurements": make_measurements(methods),
        "agreement": make_agreement(methods),
        "cases": cases,
        "lesions": make_lesions(cases),
        "methods": methods,
    }


@pytest.fixture(scope="session")
def synth():
    """The table builders, for tests that need other method sets."""
    from types import SimpleNamespace

    return SimpleNamespace(
        measurements=make_measurements,
        agreement=make_agreement,
        cases=make_cases,
        lesions=make_lesions,
        paper_methods=paper_methods,
    )
