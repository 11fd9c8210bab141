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

__all__ = ["datalist", "read_dataset_json", "read_splits"]

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
