"""Measure a whole cohort: discover, pair, shard, run cases in parallel, collect tables."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import warnings
from collections.abc import Collection
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from agreement.errors import InputError
from agreement.measures.case import (
    CASE_COLUMNS,
    FAILED_COLUMNS,
    LESION_TABLE_COLUMNS,
    MEASUREMENT_COLUMNS,
    CaseResult,
    measure_job_quietly,
)
from agreement.measures.cluster import auto_workers, dask_backend, input_bytes
from agreement.measures.layout import Plan, plan_cohort
from agreement.measures.options import MeasureOptions, with_legacy_keywords
from agreement.tables import MISSING_COLUMNS


@dataclass(frozen=True, eq=False)
class CohortResult:
    """The tables of a cohort, the detected layout and what was left out.

    Attributes
    ----------
    measurements, cases, lesions, failed : pandas.DataFrame
        DESIGN §4 tables; ``failed`` has ``case_id, method, reason``.
    layout : str
        The layouts detected for predictions, reference and PET.
    skipped : list of str
        Inputs found but not used, each ``"PATH: reason"``.
    missing : pandas.DataFrame
        ``case_id, method, status, reason``: every (case, method) pair without a prediction
        (``status`` ``missing``, not measured, or ``empty``, scored as an empty mask) and
        every skipped input (``skipped``; ``case_id`` and ``method`` may be empty).
    options : MeasureOptions
        How the masks were measured.
    """

    measurements: pd.DataFrame
    cases: pd.DataFrame
    lesions: pd.DataFrame
    failed: pd.DataFrame
    layout: str = ""
    skipped: list[str] = field(default_factory=list)
    missing: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MISSING_COLUMNS))
    options: MeasureOptions = field(default_factory=MeasureOptions)

    def summary(self) -> str:
        """One line: cases and methods measured, pairs missing, failures with their reasons."""
        n_cases = self.cases["case_id"].nunique()
        n_methods = self.cases["method"].nunique()
        line = f"measured {n_cases} case(s) × {n_methods} method(s) = {len(self.cases)} row(s)"
        status = self.missing["status"].value_counts()
        if status.get("missing", 0):
            line += f"; {status['missing']} (case, method) pair(s) without a prediction skipped"
        if status.get("empty", 0):
            line += f"; {status['empty']} without a prediction scored as empty masks"
        if len(self.failed):
            reasons = "; ".join(
                f"{r.case_id}/{r.method}: {r.reason}" for r in self.failed.head(3).itertuples()
            )
            more = f" (+{len(self.failed) - 3} more)" if len(self.failed) > 3 else ""
            line += f"; {len(self.failed)} failed: {reasons}{more}"
        return line

    def __repr__(self) -> str:
        return f"CohortResult({self.summary()})"


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Parse ``"K/N"`` (0-based K) into ``(K, N)``.

    Examples
    --------
    >>> parse_shard("1/4")
    (1, 4)
    """
    if shard is None:
        return None
    if isinstance(shard, str):
        parts = shard.split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"shard must look like K/N (e.g. 0/4), got {shard!r}")
        shard = (int(parts[0]), int(parts[1]))
    k, n = shard
    if n < 1 or not 0 <= k < n:
        raise ValueError(f"shard must be K/N with 0 <= K < N (K is 0-based), got {k}/{n}")
    return k, n


def add_method_split(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``network`` and ``loss`` columns when a method is named ``network/loss``."""
    if table.empty or not table["method"].astype(str).str.contains("/").any():
        return table
    from agreement.tables import split_method

    parts = [split_method(m) for m in table["method"]]
    out = table.copy()
    out["network"] = [p[0] for p in parts]
    out["loss"] = [p[1] for p in parts]
    return out


def exit_with_parent(parent: int, *, interval: float = 1.0) -> bool:
    """In a worker process: exit as soon as the main process ``parent`` is gone.

    A killed main process (``kill -9``, ``scancel``, a closed terminal) otherwise leaves its
    joblib workers running their cases until loky's idle timeout. Starts one watching thread
    per process; does nothing in ``parent`` itself, on Windows, or when ``parent`` is not
    this process's parent. Returns whether this process is watched.

    Examples
    --------
    >>> import os
    >>> exit_with_parent(os.getpid())  # the main process never watches itself
    False
    """
    global _WATCHED
    if os.name == "nt" or os.getpid() == parent or os.getppid() != parent:
        return False
    if _WATCHED != parent:
        _WATCHED = parent

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(interval)
            os._exit(1)  # the parent died: this worker was adopted by another process

        threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
    return True


_WATCHED: int | None = None


def _run(
    job: Any, options: MeasureOptions, strict: bool, parent: int | None = None
) -> CaseResult:
    if parent is not None:
        exit_with_parent(parent)
    return measure_job_quietly(job, options, strict=strict)


def missing_rows(plan: Plan, policy: str = "skip") -> pd.DataFrame:
    """The ``missing`` table of a plan: pairs without a prediction, then skipped inputs.

    ``policy`` is ``"empty"`` when absent predictions are scored as empty masks.
    """
    rows = []
    for case_id, method, job in plan.missing_pairs():
        where = plan.folders.get(method)
        reason = f"no prediction in {where}" if where is not None else "no prediction"
        if job.pet is None:
            rows.append((case_id, method, "missing", f"{reason}; no PET volume either"))
        elif policy == "empty":
            rows.append((case_id, method, "empty", f"{reason}; scored as an empty mask"))
        else:
            rows.append((case_id, method, "missing", reason))
    rows += [("", "", "skipped", note) for note in plan.skipped]
    return pd.DataFrame(rows, columns=MISSING_COLUMNS)


def _refuse_missing(plan: Plan) -> None:
    """``--missing fail``: name the first pair without a prediction and count them all."""
    pairs = plan.missing_pairs()
    if not pairs:
        return
    case_id, method, job = pairs[0]
    where = plan.folders.get(method, "the predictions")
    raise InputError(
        f"{where}: no prediction for case {case_id!r} (reference {job.reference}); "
        f"{len(pairs)} (case, method) pair(s) without a prediction in all (--missing fail)"
    )


def _check_reference_label(results: list[CaseResult], plan: Plan, label: int | None) -> None:
    """Refuse a reference label value that none of the measured reference masks holds."""
    found = [r.label_found for r in results if r.label_found is not None]
    if label is None or not found or any(found):
        return
    from agreement.measures.io import load_volume

    measured = {str(r.cases["case_id"].iloc[0]) for r in results if len(r.cases)}
    files = [str(j.reference) for j in plan.jobs if j.case_id in measured]
    first = load_volume(files[0]).array
    values = ", ".join(f"{v:g}" for v in np.unique(first)[:8].tolist())
    shown = ", ".join(files[:3]) + (f" (+{len(files) - 3} more)" if len(files) > 3 else "")
    raise InputError(
        f"reference label {label}: no reference mask contains the value {label} ({shown}; "
        f"{files[0]} holds {values}); pass --pred-label {label} if only the predictions use it"
    )


def collect(results: list[CaseResult], plan: Plan, missing: pd.DataFrame | None = None
            ) -> CohortResult:  # fmt: skip
    """Concatenate per-case results in case order into a :class:`CohortResult`."""

    def cat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)

    results = [r for r in results if len(r.cases) or len(r.failed)]
    order = sorted(
        results,
        key=lambda r: str(
            r.cases["case_id"].iloc[0] if len(r.cases) else r.failed["case_id"].iloc[0]
        ),
    )
    return CohortResult(
        add_method_split(cat([r.measurements for r in order], MEASUREMENT_COLUMNS)),
        add_method_split(cat([r.cases for r in order], CASE_COLUMNS)),
        add_method_split(cat([r.lesions for r in order], LESION_TABLE_COLUMNS)),
        cat([r.failed for r in order], FAILED_COLUMNS),
        plan.layout,
        list(plan.skipped),
        missing_rows(plan) if missing is None else missing,
    )


def measure_cohort(
    pred: str | os.PathLike[str] | None = None,
    reference: str | os.PathLike[str] | None = None,
    pet: str | os.PathLike[str] | None = None,
    *,
    options: MeasureOptions | None = None,
    datalist: str | os.PathLike[str] | None = None,
    pet_channel: str | int | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    shard: str | tuple[int, int] | None = None,
    progress: Any = True,
    strict: bool = False,
    skip_cases: Collection[str] = (),
    **legacy: Any,
) -> CohortResult:
    """Measure every predicted mask of a folder against the reference on the PET.

    Parameters
    ----------
    pred : path-like
        ``PRED/<case>``, ``PRED/<method>/<case>`` or ``PRED/<network>/<loss>/<case>``.
    reference, pet : path-like
        Flat, nnU-Net or autoPET folders (see :mod:`agreement.measures.layout`).
    datalist : path-like, optional
        A MONAI datalist JSON (``image``/``label``/``pred`` entries) instead of the three
        folders (see :mod:`agreement.measures.datalist`).
    options : MeasureOptions, optional
        How the masks are measured: connectivity, detection criterion, label values, the
        policy for missing predictions, resampling, RTSTRUCT ROIs (default:
        ``MeasureOptions()``, the papers' choices).
    workers : int, optional
        Parallel processes (joblib). Default: 1 when the input files total under 64 MiB
        (starting processes costs more than it saves), else ``SLURM_CPUS_PER_TASK`` or the
        usable CPUs (:func:`agreement.measures.cluster.auto_workers`).
    pet_channel : str or int, optional
        The PET channel of nnU-Net images (``1`` or ``"0001"``) when ``dataset.json`` does
        not name one PET or SUV.
    scheduler : str or distributed.Client, optional
        Run the cases on a Dask cluster instead (scheduler address such as
        ``tcp://host:8786``, or a client); needs the ``[dask]`` extra and the files visible to
        every worker. Excludes ``workers``.
    shard : "K/N" or (K, N), optional
        Measure only cases K, K+N, K+2N, ... of the sorted case list (0-based K).
    progress : bool or tqdm
        Show a tqdm progress bar on stderr; or a tqdm bar of the caller to advance by one per
        case (its total grows by the number of cases), so that a larger run shows one display.
    strict : bool
        Raise on the first failing case instead of listing it in ``failed``.
    skip_cases : collection of str
        Case ids not to measure (``--resume``).
    **legacy
        The measuring keywords of the previous signature (``connectivity=``,
        ``criterion=``, ``missing=``, ...): still accepted for one release with a
        DeprecationWarning; they update ``options``.

    Returns
    -------
    CohortResult

    Examples
    --------
    >>> import tempfile, pathlib, nibabel as nib, numpy as np
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> m = np.zeros((8, 8, 8), np.uint8); m[2:4, 2:4, 2:4] = 1
    >>> for sub, arr in [("pred/unet", m), ("ref", m), ("pet", np.ones(m.shape, np.float32))]:
    ...     (root / sub).mkdir(parents=True)
    ...     nib.save(nib.Nifti1Image(arr, np.eye(4)), root / sub / "c1.nii.gz")
    >>> res = measure_cohort(root / "pred", root / "ref", root / "pet", progress=False)
    >>> res.summary()
    'measured 1 case(s) × 1 method(s) = 1 row(s)'
    """
    options = with_legacy_keywords(options, legacy, "measure_cohort")
    if not isinstance(options, MeasureOptions):
        raise TypeError(f"options must be a MeasureOptions, got {type(options).__name__}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers is not None and scheduler is not None:
        raise ValueError("pass workers or scheduler, not both")
    plan = plan_cohort(pred, reference, pet, pet_channel=pet_channel, datalist=datalist)
    parsed = parse_shard(shard)
    if parsed is not None:
        plan = plan.shard(*parsed)
    absent = missing_rows(plan, options.missing)
    if options.missing == "fail":
        _refuse_missing(plan)
    skip = set(skip_cases)
    jobs = [j for j in plan.jobs if j.case_id not in skip]
    if options.missing != "empty":  # a case without any prediction has nothing to measure
        jobs = [j for j in jobs if j.predictions]
    if workers is None:
        files = [p for j in jobs for p in (j.reference, j.pet, *j.predictions.values()) if p]
        n_jobs = auto_workers(len(jobs), input_bytes(files))
    else:
        n_jobs = min(workers, max(len(jobs), 1))
    results = list(_iterate(jobs, options, strict, n_jobs, progress, scheduler))
    for category, message in dict.fromkeys(w for r in results for w in r.warnings):
        warnings.warn(message, category, stacklevel=2)
    _check_reference_label(results, plan, options.reference_value)
    return dataclasses.replace(collect(results, plan, absent), options=options)


def _iterate(
    jobs: list, options: MeasureOptions, strict: bool, n_jobs: int, progress: Any, scheduler: Any
):
    from agreement.progress import progress_bar

    own = isinstance(progress, bool) or progress is None
    if own:
        bar = progress_bar(total=len(jobs), unit="case", desc="measure", enabled=bool(progress))
    else:  # the caller's bar
        bar = progress
        bar.total = (bar.total or 0) + len(jobs)
        bar.refresh()
    try:
        if n_jobs <= 1 and scheduler is None:
            for job in jobs:
                yield _run(job, options, strict)
                bar.update()
            return
        from joblib import Parallel, delayed

        with dask_backend(scheduler) if scheduler is not None else nullcontext():
            parallel = Parallel(
                n_jobs=-1 if scheduler is not None else n_jobs, return_as="generator_unordered"
            )
            parent = os.getpid() if scheduler is None else None  # local workers watch this one
            tasks = (delayed(_run)(job, options, strict, parent) for job in jobs)
            for result in parallel(tasks):
                yield result
                bar.update()
    finally:
        if own:
            bar.close()
