"""The words of the report: definitions, references and the methods paragraph (``methods.md``).

Every sentence that states a parameter takes it from the run's parameters, so the text always
describes what was actually computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agreement.format import percent
from agreement.stats.registry import STATISTICS

REFERENCES = [
    "Lin LI. A concordance correlation coefficient to evaluate reproducibility. "
    "Biometrics. 1989;45(1):255-268.",
    "McBride GB. A proposal for strength-of-agreement criteria for Lin's concordance "
    "correlation coefficient. NIWA Client Report HAM2005-062; 2005.",
    "Schuirmann DJ. A comparison of the two one-sided tests procedure and the power approach "
    "for assessing the equivalence of average bioavailability. J Pharmacokinet Biopharm. "
    "1987;15(6):657-680.",
    "Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of "
    "clinical measurement. Lancet. 1986;1(8476):307-310.",
    "Bland JM, Altman DG. Measuring agreement in method comparison studies. Stat Methods Med "
    "Res. 1999;8(2):135-160.",
    "Lin LI. Total deviation index for measuring individual agreement with applications in "
    "laboratory performance and bioequivalence. Stat Med. 2000;19(2):255-270.",
    "Lin LI, Hedayat AS, Sinha B, Yang M. Statistical methods in assessing agreement: models, "
    "issues, and tools. J Am Stat Assoc. 2002;97(457):257-270.",
    "Carkeet A. Exact parametric confidence intervals for Bland-Altman limits of agreement. "
    "Optom Vis Sci. 2015;92(3):e71-e80.",
    "Wilson EB. Probable inference, the law of succession, and statistical inference. J Am "
    "Stat Assoc. 1927;22(158):209-212.",
    "Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall; 1993.",
    "Dzikunu OK, Toosi A, Ahamed S, et al. Comprehensive evaluation of quantitative "
    "measurements from automated deep segmentations of PSMA PET/CT images. arXiv; 2025.",
    "Dzikunu OK, Ahamed S, Toosi A, Li X, Rahmim A. Adaptive voxel-weighted loss using L1 norms "
    "in deep neural networks for detection and segmentation of prostate cancer lesions in "
    "PET/CT images. arXiv; 2025.",
    "Gatidis S, Hepp T, Früh M, et al. A whole-body FDG-PET/CT dataset with manually annotated "
    "tumor lesions. Sci Data. 2022;9:601 (autoPET; DSC, FPV and FNV definitions).",
    "Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat. "
    "1979;6(2):65-70.",
    # then those the statistics of the registry bring along
    *dict.fromkeys(r for s in STATISTICS.values() for r in s.references),
]


def _cite(references: Sequence[str]) -> str:
    return ", ".join(str(REFERENCES.index(r) + 1) for r in references)


def _registry_sentences(p: Mapping[str, Any]) -> str:
    """The methods sentence of each registry statistic that brings its own."""
    return "".join(
        f"{s.methods_text(p)}" + (f" [{_cite(s.references)}]" if s.references else "") + ". "
        for s in STATISTICS.values()
        if s.methods_text is not None
    )


def citation(version: str) -> str:
    """How to cite the toolkit (the text of ``CITATION.cff`` at the repository root).

    Examples
    --------
    >>> citation("0.1.0")[:40]
    'pet-agreement developers. pet-agreement:'
    """
    return (
        "pet-agreement developers. pet-agreement: agreement of clinical PET measures from "
        f"automated lesion segmentations with the reference, version {version} [software]. "
        "Please cite also the papers of the statistics used (references above) and the study "
        "that defined the analysis (Dzikunu et al. 2025, reference 11)."
    )


_CONNECTIVITY = {6: "6 (faces)", 18: "18 (faces and edges)", 26: "26 (faces, edges and corners)"}
_CRITERION = {
    "suvmax": "the voxel holding the reference lesion's SUVmax lies inside a predicted lesion",
    "overlap": "a predicted lesion overlaps the reference lesion",
    "iou": "the intersection over union of the two lesions reaches the threshold",
}


#: A fraction as a percentage (``pct(0.2) == "20%"``).
pct = percent


def definitions(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Definitions of every measure and statistic, with the parameters of this run.

    ``p`` holds ``alpha, margin, delta, tdi_p, bootstrap, seed, n_boot, connectivity,
    criterion`` (missing measurement keys mean the table came from elsewhere).

    Examples
    --------
    >>> d = dict(definitions({"alpha": 0.05, "margin": 0.2, "delta": 0.2, "tdi_p": 0.95,
    ...                       "bootstrap": 0, "seed": 0, "n_boot": 2000}))
    >>> "±20%" in d["TOST equivalence"]
    True
    """
    a = p["alpha"]
    conn = p.get("connectivity")
    conn_text = _CONNECTIVITY.get(conn, str(conn)) if conn else "as in the measurements table"
    crit = _CRITERION.get(p.get("criterion") or "", "as in the cases table")
    boot = int(p.get("bootstrap") or 0)
    return [
        (
            "Lesions",
            f"Connected components of the binary mask, {conn_text}-connectivity. Voxel volume "
            "(ml) is the product of the voxel spacing in mm divided by 1000.",
        ),
        (
            "SUVmax, SUVmean",
            "Maximum and mean PET (SUV) over all mask voxels of the case. An empty mask gives 0.",
        ),
        ("TMTV", "Total molecular tumour volume: mask voxels × voxel volume (ml)."),
        ("TLA", "Total lesion activity: Σ over lesions of SUVmean × volume (SUV·ml)."),
        ("Lesion count", "The number of connected components."),
        (
            "Dmax",
            "Lesion dissemination: the largest Euclidean distance (cm) between any two "
            "foreground voxel centres, computed exactly on the convex hull.",
        ),
        (
            "DSC, FPV, FNV",
            "DSC = 2|G∩P| / (|G|+|P|), undefined when both masks are empty. FPV: volume of "
            "predicted components touching no reference voxel; FNV: volume of reference "
            "components touching no predicted voxel (autoPET definitions).",
        ),
        (
            "Detection",
            f"A reference lesion is a true positive when {crit}; otherwise a false negative. A "
            "predicted lesion that detects no reference lesion is a false positive. "
            "F1 = TP / (TP + ½(FP + FN)). Table I rates are per patient, then averaged.",
        ),
        (
            "Scenarios and strata",
            "Single-lesion cases have one reference lesion, multiple-lesion cases more than "
            "one. TMTV thresholds step by one inter-quartile range from 0 to the 85th "
            "percentile of the reference TMTV; Dmax groups G0–G3 are the quartiles of the "
            "reference Dmax of multiple-lesion cases.",
        ),
        (
            "Differences",
            "Always predicted − reference, per case; each metric is compared at the patient level.",
        ),
        (
            "CCC",
            f"Lin's concordance correlation coefficient with its {pct(1 - a)} "
            + (
                f"percentile bootstrap interval ({boot} resamples, seed {p['seed']})"
                if boot
                else "Fisher-z interval with Lin's variance"
            )
            + " (Lin 1989); C_b is the accuracy factor. Strength labels after McBride "
            "(2005): > 0.99 almost perfect, 0.95–0.99 substantial, 0.90–0.95 moderate, "
            "< 0.90 poor.",
        ),
        (
            "TOST equivalence",
            f"Two one-sided paired t-tests at α = {a:g} with bounds ±{pct(p['margin'])} of "
            f"|mean reference| (Δ). Equivalent when both one-sided p < α, i.e. the "
            f"{pct(1 - 2 * a)} interval of the mean difference lies inside (−Δ, Δ).",
        ),
        (
            "Bland–Altman",
            f"Bias = mean difference with its t interval; SD with ddof = 1; limits of "
            f"agreement = bias ± 1.96·SD with exact {pct(1 - a)} intervals (Carkeet 2015); "
            "the slope of the difference on the mean of the two values tests proportional bias.",
        ),
        (
            "Coverage probability",
            f"Share of cases with |predicted − reference| ≤ {pct(p['delta'])} × |reference| "
            "(a zero reference is covered only by a zero prediction), with a Wilson "
            f"{pct(1 - a)} interval.",
        ),
        (
            "Total deviation index",
            f"The {pct(p['tdi_p'])} quantile of |predicted − reference| (linear "
            "interpolation); "
            + (
                f"its one-sided {pct(1 - a)} upper limit comes from {boot} bootstrap resamples "
                f"(seed {p['seed']})."
                if boot
                else "no upper limit without bootstrap resamples (--n-resamples N)."
            ),
        ),
        *((s.label, s.definition(p)) for s in STATISTICS.values() if s.definition is not None),
        (
            "Method comparisons",
            f"Paired bootstrap (cases resampled jointly, {int(p['n_boot'])} resamples, seed "
            f"{p['seed']}) of the difference of the CCC between the best method and each other "
            f"method, with a percentile {pct(1 - a)} interval and a two-sided p value. The best "
            "method is chosen from the same data, so the p values are also given Holm-adjusted "
            "over all comparisons (p_holm; Holm 1979).",
        ),
        (
            "Not estimable",
            "A statistic needs some spread, and its interval at least 3 paired cases (2 cases "
            "give the CCC, bias, SD, CP and TDI without intervals); what cannot be estimated is "
            "shown as — with a note, never as a number.",
        ),
        *([("Missing predictions", MISSING_TEXT[p["missing"]])] if p.get("missing") else []),
    ]


#: What ``--missing`` did with a reference case that a method has no prediction for.
MISSING_TEXT = {
    "skip": "A reference case without a prediction for a method was not measured for that "
    "method (left out of its statistics); every such pair is listed in missing.csv.",
    "empty": "A reference case without a prediction for a method was scored as an empty "
    "predicted mask, as the autoPET evaluation does; every such pair is listed in missing.csv.",
    "fail": "Every reference case had a prediction for every method (--missing fail).",
}


def methods_markdown(
    p: Mapping[str, Any],
    *,
    n_cases: int,
    methods: Sequence[str],
    metrics: Sequence[str],
    versions: Mapping[str, str],
) -> str:
    """``methods.md``: a paragraph for a paper's methods section, then its references.

    Examples
    --------
    >>> text = methods_markdown({"alpha": 0.05, "margin": 0.2, "delta": 0.2, "tdi_p": 0.95,
    ...     "bootstrap": 0, "seed": 0, "n_boot": 2000, "connectivity": 18,
    ...     "criterion": "suvmax"}, n_cases=20, methods=["a", "b"], metrics=["SUVmax"],
    ...     versions={"pet-agreement": "0.1.0", "python": "3.11"})
    >>> "18-connectivity" in text and "Δ = 20%" in text and "[1]" in text
    True
    >>> text.rstrip().endswith("(`cff-version: 1.2.0`).")
    True
    """
    a = p["alpha"]
    conn = p.get("connectivity")
    crit = p.get("criterion")
    boot = int(p.get("bootstrap") or 0)
    methods_text = ", ".join(methods) if len(methods) <= 12 else f"{len(methods)} methods"
    measure = (
        f"Lesions were defined as {conn}-connectivity connected components of each mask. "
        if conn
        else ""
    )
    detection = (
        f"A reference lesion counted as detected when {_CRITERION.get(crit, crit)}. "
        if crit
        else ""
    )
    para = (
        f"Agreement between the clinical measures ({', '.join(metrics)}) derived from the "
        f"predicted and the reference segmentations was assessed at the patient level in "
        f"{n_cases} cases for {methods_text}, with pet-agreement "
        f"{versions.get('pet-agreement', '')} (Python {versions.get('python', '')}). "
        f"{measure}SUVmax and SUVmean were taken over all mask voxels, total molecular tumour "
        "volume (TMTV) as the mask volume, total lesion activity (TLA) as the sum of SUVmean × "
        "volume over lesions, and lesion dissemination (Dmax) as the largest distance between "
        "two foreground voxels [11, 12]. "
        f"{detection}Overlap was summarised by the Dice similarity coefficient (DSC) and the "
        "false-positive and false-negative volumes (FPV, FNV) [13]. "
        f"Agreement was quantified by Lin's concordance correlation coefficient (CCC) with "
        f"{pct(1 - a)} "
        + (f"bootstrap ({boot} resamples) " if boot else "Fisher-z ")
        + "confidence intervals [1], interpreted with McBride's "
        f"strength-of-agreement criteria [2]; equivalence was tested with two one-sided paired "
        f"t-tests (TOST, α = {a:g}) with equivalence bounds Δ = {pct(p['margin'])} of the mean "
        f"reference value [3]; Bland–Altman analysis gave the bias and the 95% limits of "
        f"agreement with exact {pct(1 - a)} confidence intervals [4, 5, 8]; the coverage "
        f"probability (share of cases within ±{pct(p['delta'])} of the reference, Wilson "
        f"interval) [7, 9] and the total deviation index (TDI, {pct(p['tdi_p'])} quantile of the "
        f"absolute differences{f', bootstrap upper limit with {boot} resamples' if boot else ''}) "
        f"[6] described individual agreement. {_registry_sentences(p)}Methods were compared with a paired bootstrap of "
        f"the difference in CCC ({int(p['n_boot'])} resamples, seed {p['seed']}) [10], with "
        "Holm-adjusted p values because the reference method of the comparisons was chosen "
        "from the same data [14]. "
        "Differences are "
        "predicted minus reference."
        + (" " + MISSING_TEXT[p["missing"]] if p.get("missing") == "empty" else "")
    )
    refs = "\n".join(f"{i}. {r}" for i, r in enumerate(REFERENCES, 1))
    cite = citation(versions.get("pet-agreement", ""))
    return (
        f"# Methods\n\n{para}\n\n## References\n\n{refs}\n\n## How to cite\n\n{cite}\n\n"
        "Machine-readable: `CITATION.cff` at the root of the pet-agreement repository "
        "(`cff-version: 1.2.0`).\n"
    )
