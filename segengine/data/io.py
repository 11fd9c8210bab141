"""The nnU-Net-style PET/CT dataset folder: file lists and cross-validation splits.

Layout (``DATA`` is the dataset folder)::

    DATA/dataset.json             {"channel_names": {"0": "CT", "1": "PET"}, "file_ending": ".nii.gz", ...}
    DATA/splits_final.json        [{"train": [case, ...], "val": [case, ...]}, ...]  (one per fold)
    DATA/imagesTr/<case>_0000.nii.gz   CT in HU
    DATA/imagesTr/<case>_0001.nii.gz   PET in SUV
    DATA/labelsTr/<case>.nii.gz        lesion mask

CT and PET of a case must share one voxel grid (the nnU-Net convention). This module does
not import torch.

Examples
--------
>>> import json, tempfile, pathlib
>>> from segengine.data.io import datalist
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for sub in ("imagesTr", "labelsTr"):
...     (root / sub).mkdir()
>>> _ = (root / "dataset.json").write_text(json.dumps({"channel_names": {"0": "CT", "1": "PET"}}))
>>> for name in ("imagesTr/a_0000", "imagesTr/a_0001", "labelsTr/a"):
...     _ = (root / f"{name}.nii.gz").write_bytes(b"")
>>> [sorted(d) for d in datalist(root)]
[['case_id', 'ct', 'label', 'pet']]
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from agreement.errors import InputError

__all__ = ["check_cases", "datalist", "grid_problem", "read_dataset_json", "read_splits"]

_CHANNELS = {"0": "ct", "1": "pet"}


def read_dataset_json(data_dir: str | Path) -> dict:
    """Read and check ``dataset.json`` (channel 0 must be CT and channel 1 PET).

    Raises
    ------
    agreement.errors.InputError
        If the file is missing, is not JSON, or names other channels.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from segengine.data.io import read_dataset_json
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "dataset.json").write_text(json.dumps({"channel_names": {"0": "PET"}}))
    >>> read_dataset_json(root)
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: .../dataset.json: channel_names must be {"0": "CT", "1": "PET"}, got {'0': 'PET'}
    """
    path = Path(data_dir) / "dataset.json"
    if not path.is_file():
        raise InputError(f"{path}: missing dataset.json")
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    names = meta.get("channel_names") if isinstance(meta, dict) else None
    normalised = (
        {str(k): str(v).lower() for k, v in names.items()} if isinstance(names, dict) else {}
    )
    normalised = {k: "pet" if v in ("pt", "pet") else v for k, v in normalised.items()}
    if normalised != _CHANNELS:
        raise InputError(f'{path}: channel_names must be {{"0": "CT", "1": "PET"}}, got {names!r}')
    return meta


def datalist(
    data_dir: str | Path,
    cases: Iterable[str] | None = None,
    *,
    images: str = "imagesTr",
    labels: str | None = "labelsTr",
) -> list[dict[str, str]]:
    """File dictionaries ``{"case_id", "ct", "pet", "label"}`` for the transforms.

    Parameters
    ----------
    data_dir : str or Path
        The dataset folder.
    cases : iterable of str, optional
        Case IDs in the order wanted; by default every case with a CT file in ``images``,
        sorted.
    images, labels : str
        Sub-folders; ``labels=None`` leaves out the ``label`` key (inference).

    Returns
    -------
    list of dict
        Paths as strings, matched by case ID (never by sort order).

    Raises
    ------
    agreement.errors.InputError
        If ``dataset.json`` is invalid or a file of a requested case is missing.
    """
    root = Path(data_dir)
    ending = read_dataset_json(root).get("file_ending", ".nii.gz")
    image_dir = root / images
    if not image_dir.is_dir():
        raise InputError(f"{image_dir}: missing folder")
    if cases is None:
        suffix = f"_0000{ending}"
        cases = sorted(p.name[: -len(suffix)] for p in image_dir.glob(f"*{suffix}"))
    out = []
    for case in cases:
        item = {
            "case_id": str(case),
            "ct": str(image_dir / f"{case}_0000{ending}"),
            "pet": str(image_dir / f"{case}_0001{ending}"),
        }
        if labels is not None:
            item["label"] = str(root / labels / f"{case}{ending}")
        for key in ("ct", "pet", "label"):
            if key in item and not Path(item[key]).is_file():
                raise InputError(f"{item[key]}: missing {key} file of case {case!r}")
        out.append(item)
    return out


def read_splits(data_dir: str | Path) -> list[dict[str, list[str]]]:
    """Read ``splits_final.json``: one ``{"train": [...], "val": [...]}`` per fold.

    Raises
    ------
    agreement.errors.InputError
        If the file is missing or not in the nnU-Net format.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from segengine.data.io import read_splits
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "splits_final.json").write_text(json.dumps([{"train": ["a"], "val": ["b"]}]))
    >>> read_splits(root)
    [{'train': ['a'], 'val': ['b']}]
    """
    path = Path(data_dir) / "splits_final.json"
    if not path.is_file():
        raise InputError(f"{path}: missing splits_final.json")
    try:
        folds = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    ok = isinstance(folds, list) and all(
        isinstance(f, dict)
        and all(
            isinstance(f.get(k), list) and all(isinstance(c, str) for c in f[k])
            for k in ("train", "val")
        )
        for f in folds
    )
    if not ok or not folds:
        raise InputError(f'{path}: expected a list of {{"train": [...], "val": [...]}} folds')
    for i, fold in enumerate(folds):
        both = set(fold["train"]) & set(fold["val"])
        if both:
            raise InputError(f"{path}: fold {i} has cases in train and val: {sorted(both)[:3]}")
    return [{"train": list(f["train"]), "val": list(f["val"])} for f in folds]


def grid_problem(image: object, reference: object, *, atol: float = 1e-3) -> str | None:
    """How the grid of ``image`` differs from ``reference``'s (nibabel images), or None.

    Shapes must be equal and affines equal within ``atol`` mm per entry (agreement's tolerance).

    Examples
    --------
    >>> import nibabel as nib, numpy as np
    >>> a = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4))
    >>> b = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.diag([1.0, 1, 1, 1]))
    >>> grid_problem(a, b) is None
    True
    >>> b.affine[0, 3] = 10.0
    >>> grid_problem(a, nib.Nifti1Image(np.zeros((2, 2, 2)), b.affine))
    'affine differs by up to 10 mm'
    """
    import numpy as np

    if tuple(image.shape) != tuple(reference.shape):
        return f"shape {tuple(image.shape)} vs {tuple(reference.shape)}"
    diff = float(np.max(np.abs(np.asarray(image.affine) - np.asarray(reference.affine))))
    if diff > atol:
        return f"affine differs by up to {diff:.4g} mm"
    return None


def _case_problems(item: dict[str, str]) -> list[str]:
    """The problems of one training case: unreadable files, grids, label values."""
    import nibabel as nib
    import numpy as np

    images = {}
    for key in ("pet", "ct", "label"):
        try:
            images[key] = nib.load(item[key])
        except Exception as exc:  # noqa: BLE001 - any reader error names the file
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return [f"{item[key]}: cannot read ({first})"]
    pet = images["pet"]
    out = []
    for key in ("ct", "label"):
        problem = grid_problem(images[key], pet)
        if problem:
            out.append(f"{item[key]}: grid differs from {Path(item['pet']).name}: {problem}")
    data = np.asarray(images["label"].dataobj)
    bad = (data != 0) & (data != 1)
    if bad.any():
        values = np.unique(np.concatenate([np.unique(data[bad]), np.unique(data[~bad])]))
        shown = ", ".join(f"{v:g}" for v in values[:8]) + (", ..." if len(values) > 8 else "")
        out.append(f"{item['label']}: label values {{{shown}}}; lesion masks must hold 0 and 1 only")
    return out


def check_cases(items: Iterable[dict[str, str]]) -> None:
    """Check every training case before training: grids, readable files, label values.

    CT, PET and label of a case must share one grid (shape and affine) and the label may hold
    only 0 and 1. Every bad file is named, in one line.

    Raises
    ------
    agreement.errors.InputError
        Naming each bad file and its problem.

    Examples
    --------
    >>> import nibabel as nib, numpy as np, tempfile, pathlib
    >>> from segengine.data.io import check_cases
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> item = {key: str(root / f"{key}.nii") for key in ("ct", "pet", "label")}
    >>> for key, value in (("ct", -1000), ("pet", 1), ("label", 2)):
    ...     nib.save(nib.Nifti1Image(np.full((2, 2, 2), value, np.int16), np.eye(4)), item[key])
    >>> check_cases([item])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: .../label.nii: label values {2}; lesion masks must hold 0 and 1 only
    """
    problems = [p for item in items for p in _case_problems(item)]
    if len(problems) == 1:
        raise InputError(problems[0])
    if problems:
        raise InputError(f"{len(problems)} bad training files: " + "; ".join(problems))
