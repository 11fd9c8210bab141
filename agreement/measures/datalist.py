"""A MONAI datalist JSON as the cohort: ``image`` (PET), ``label`` (reference), ``pred``.

The file is what ``monai.data.load_decathlon_datalist`` reads: sections (``training``,
``validation``, ``test``, ...) holding lists of entries. Each entry names its files:

* ``image``: the PET, or a list of channel files (the PET picked by ``pet_channel``, an index
  into the list; a single file needs none);
* ``label``: the reference mask;
* ``pred``: the predicted mask (method = its folder's name), or ``{method: file}``.

Relative paths are relative to the JSON file's folder (MONAI's default ``base_dir``). The case
id is the entry's ``case_id`` or ``id`` when present, else the label's file name. An entry
without ``pred`` (or without one of the methods) is a missing (case, method) pair, listed like
those of the folder layouts; an entry without ``image`` or ``label`` is an error naming the
file, the section and the entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agreement.errors import InputError
from agreement.measures.layout import CaseJob, Plan, case_stem, parse_channel


def _path(base: Path, value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: expected a file path, got {value!r}")
    p = Path(value)
    return p if p.is_absolute() else base / p


def _pet(base: Path, image: Any, where: str, pet_channel: str | int | None) -> Path:
    if isinstance(image, list):
        if len(image) == 1 and pet_channel is None:
            return _path(base, image[0], where)
        if pet_channel is None:
            raise InputError(
                f"{where}: 'image' lists {len(image)} channels; pass --pet-channel N "
                "(0-based index of the PET in the list)"
            )
        index = int(parse_channel(pet_channel))
        if index >= len(image):
            raise InputError(
                f"{where}: --pet-channel {index} but 'image' lists {len(image)} channel(s)"
            )
        return _path(base, image[index], where)
    return _path(base, image, where)


def plan_datalist(path: str | Path, *, pet_channel: str | int | None = None) -> Plan:
    """Read a MONAI datalist into the cohort plan of :func:`agreement.measure_cohort`.

    Raises
    ------
    InputError
        Unreadable JSON, no entries, an entry without ``image``/``label``, duplicate case ids.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> entry = {"image": ["ct/a.nii.gz", "pet/a.nii.gz"], "label": "ref/a.nii.gz",
    ...          "pred": "unet/a.nii.gz"}
    >>> _ = (d / "list.json").write_text(json.dumps({"test": [entry]}))
    >>> plan = plan_datalist(d / "list.json", pet_channel=1)
    >>> [(j.case_id, j.pet.name, sorted(j.predictions)) for j in plan.jobs]
    [('a', 'a.nii.gz', ['unet'])]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {'not a file' if path.exists() else 'file not found'}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object of sections (training, test, ...)")
    sections = {
        k: v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)
    }
    base = path.parent
    jobs: dict[str, CaseJob] = {}
    methods: set[str] = set()
    for section, entries in sections.items():
        for i, entry in enumerate(entries):
            where = f"{path}: {section}[{i}]"
            if not isinstance(entry, dict):
                raise InputError(f"{where}: expected an object with image, label and pred")
            for key in ("image", "label"):
                if key not in entry:
                    raise InputError(f"{where}: no {key!r}")
            label = _path(base, entry["label"], where)
            case_id = str(entry.get("case_id") or entry.get("id") or case_stem(label))
            pred = entry.get("pred", {})
            if isinstance(pred, dict):
                preds = {str(m): _path(base, p, where) for m, p in pred.items()}
            else:
                file = _path(base, pred, where)
                preds = {file.parent.name or "pred": file}
            if case_id in jobs:
                raise InputError(f"{where}: duplicate case id {case_id!r}")
            pet = _pet(base, entry["image"], where, pet_channel)
            jobs[case_id] = CaseJob(case_id, label, pet, dict(sorted(preds.items())))
            methods.update(preds)
    if not jobs:
        raise InputError(f"{path}: no entries (lists of objects with image, label and pred)")
    names = sorted(methods)
    plan_jobs = [
        CaseJob(j.case_id, j.reference, j.pet, j.predictions,
                tuple(m for m in names if m not in j.predictions))  # fmt: skip
        for j in (jobs[c] for c in sorted(jobs))
    ]
    with_pred = sum(1 for j in plan_jobs if j.predictions)
    layout = f"MONAI datalist {path.name} ({', '.join(sections)}): {with_pred} case(s) with pred"
    return Plan(layout, plan_jobs, names, [])
