"""Find predictions, reference masks and PET volumes on disk and pair them by case id.

Recognised layouts (the detected one is reported):

* predictions: ``PRED/<case>`` (flat; the method is the folder name), ``PRED/<method>/<case>``
  or ``PRED/<network>/<loss>/<case>`` (method ``network/loss``); autoPET
  ``<patient>/<study>/PRED.nii.gz``, a tree mirroring the study folders or the study folders
  themselves (one method, the folder name);
* reference and PET: a flat folder ``<case>``; nnU-Net ``<case>_NNNN`` channel files (the
  PET channel is ``pet_channel``, else taken from ``dataset.json`` ``channel_names``, or is
  the only channel), also
  a dataset folder holding ``imagesTr``/``imagesTs``/``labelsTr``/``labelsTs``; autoPET study
  folders ``<patient>/<study>/{SEG,SUV}.nii.gz`` (case id ``<patient>_<study>``, or
  ``<patient>`` when the patient has one study).

Image files end in ``.nii.gz``, ``.nii``, ``.mha``/``.mhd`` or ``.nrrd``/``.nhdr``; other files
(JSON, plans, probabilities) are ignored. Files are paired by case id, never by sort order.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from agreement.errors import InputError
from agreement.measures.io import image_suffix

_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")
_AUTOPET = {"reference": "SEG", "pet": "SUV", "pred": "PRED"}


def case_stem(path: str | Path) -> str:
    """File name without its image suffix.

    Examples
    --------
    >>> case_stem("preds/case_01_0000.nii.gz")
    'case_01_0000'
    """
    p = Path(path)
    suffix = image_suffix(p) or p.suffix
    return p.name[: len(p.name) - len(suffix)]


def split_channel(stem: str) -> tuple[str, str | None]:
    """Split an nnU-Net channel suffix ``_NNNN`` off a stem.

    Examples
    --------
    >>> split_channel("case_01_0001"), split_channel("case_01")
    (('case_01', '0001'), ('case_01', None))
    """
    m = _CHANNEL.match(stem)
    return (m["case"], m["channel"]) if m else (stem, None)


def unusable(path: Path) -> str | None:
    """Why an entry named like an image cannot be read as one (None when it is a file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "case.nii.gz").mkdir()
    >>> unusable(d / "case.nii.gz")
    'a folder, not an image file'
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if path.is_symlink():
            return f"broken symbolic link (to {os.readlink(path)}, which does not exist)"
        return f"not readable ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "a folder, not an image file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None


def _usable(paths: list[Path], skipped: list[str] | None) -> list[Path]:
    """The paths that are image files; the others go to ``skipped`` with their reason."""
    kept = []
    for p in paths:
        problem = unusable(p)
        if problem is None:
            kept.append(p)
        elif skipped is not None:
            skipped.append(f"{p}: {problem}")
    return kept


def _images(folder: Path, skipped: list[str] | None = None) -> list[Path]:
    named = sorted(
        p for p in folder.iterdir() if not p.name.startswith(".") and image_suffix(p) is not None
    )
    return _usable(named, skipped)


_FORMAT_NAMES = {".seg.nrrd": "3D Slicer .seg.nrrd", ".dcm": "DICOM SEG"}


def _formats(paths: list[Path]) -> str:
    """`` [DICOM SEG]``: the file formats of ``paths`` other than NIfTI, for the layout line."""
    kinds = sorted({image_suffix(p) or "" for p in paths} - {".nii.gz", ".nii"})
    return f" [{', '.join(_FORMAT_NAMES.get(k, k) for k in kinds)}]" if kinds else ""


def _add(files: dict[str, Path], case_id: str, path: Path) -> None:
    if case_id in files:
        raise InputError(f"{path}: duplicate case id {case_id!r} (also {files[case_id]})")
    files[case_id] = path


@dataclass(frozen=True)
class ImageSet:
    """Images of one role (reference or PET), keyed by case id."""

    layout: str
    files: dict[str, Path]
    aliases: dict[str, str] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    def key(self, case_id: str) -> str | None:
        """The case id under which ``case_id`` (or its alias) is stored, or None."""
        if case_id in self.files:
            return case_id
        alias = self.aliases.get(case_id)
        return alias if alias in self.files else None

    def get(self, case_id: str) -> Path | None:
        """The file of ``case_id`` (or of its alias)."""
        key = self.key(case_id)
        return None if key is None else self.files[key]


def _autopet(folder: Path, role: str) -> ImageSet | None:
    name = _AUTOPET[role]
    hits = [
        p
        for pattern in (
            f"*/{name}.nii.gz",
            f"*/*/{name}.nii.gz",
            f"*/{name}.nii",
            f"*/*/{name}.nii",
        )
        for p in folder.glob(pattern)
    ]
    if not hits:
        return None
    skipped: list[str] = []
    files: dict[str, Path] = {}
    studies: dict[str, list[str]] = {}
    for p in _usable(sorted(hits), skipped):
        parts = p.parent.relative_to(folder).parts
        case_id = "_".join(parts)
        _add(files, case_id, p)
        studies.setdefault(parts[0], []).append(case_id)
    aliases = {pat: ids[0] for pat, ids in studies.items() if len(ids) == 1 and pat not in files}
    return ImageSet(f"autoPET study folders ({name}.nii.gz)", files, aliases, tuple(skipped))


def _dataset_json(folder: Path) -> dict | None:
    for candidate in (folder / "dataset.json", folder.parent / "dataset.json"):
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text())
            except (OSError, ValueError) as exc:
                raise InputError(f"{candidate}: not valid JSON ({exc})") from None
    return None


def parse_channel(channel: str | int) -> str:
    """An nnU-Net channel as its four-digit file suffix (``1``, ``"1"``, ``"0001"``).

    Examples
    --------
    >>> parse_channel("1"), parse_channel("0001"), parse_channel(0)
    ('0001', '0001', '0000')
    """
    text = str(channel).strip()
    if not re.fullmatch(r"\d{1,4}", text):
        raise ValueError(f"a channel is a number such as 1 or 0001, got {channel!r}")
    return f"{int(text):04d}"


def _pet_channel(folder: Path, channels: set[str], chosen: str | None) -> tuple[str, str]:
    """The PET channel among ``channels`` and how it was chosen."""
    shown = ", ".join(f"_{c}" for c in sorted(channels))
    if chosen is not None:
        if chosen not in channels:
            raise InputError(f"{folder}: no _{chosen} files for --pet-channel (found {shown})")
        return chosen, f"channel {chosen} (--pet-channel)"
    if len(channels) == 1:
        only = next(iter(channels))
        return only, f"channel {only} (the only one)"
    info = _dataset_json(folder) or {}
    names = info.get("channel_names") or info.get("modality") or {}
    for key, value in names.items():
        if re.search(r"pet|suv", str(value), re.IGNORECASE):
            channel = f"{int(key):04d}"
            if channel in channels:
                return channel, f"channel {channel} ({value!r} in dataset.json)"
    raise InputError(
        f"{folder}: several image channels ({shown}) and no dataset.json channel_names entry "
        "named PET or SUV says which one is the PET; pass --pet-channel N"
    )


def find_images(
    folder: str | Path,
    role: str,
    wanted: set[str] | None = None,
    *,
    pet_channel: str | int | None = None,
) -> ImageSet:
    """Collect reference masks (``role="reference"``) or PET volumes (``role="pet"``).

    ``wanted`` (case ids) decides between a flat and an nnU-Net reading of names that end
    in ``_NNNN``: the reading matching more wanted ids wins. ``pet_channel`` (``1`` or
    ``"0001"``) names the PET channel of nnU-Net images instead of ``dataset.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ["a_0000.nii.gz", "b_0000.nii.gz", "dataset.json"]:
    ...     _ = (d / n).write_text("")
    >>> s = find_images(d, "pet")
    >>> s.layout, sorted(s.files)
    ('nnU-Net images, channel 0000 (the only one)', ['a', 'b'])
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: {'not a folder' if folder.exists() else 'folder not found'}")
    autopet = _autopet(folder, role)
    if autopet is not None:
        return autopet
    subdirs = ["labelsTr", "labelsTs"] if role == "reference" else ["imagesTr", "imagesTs"]
    roots = [folder / s for s in subdirs if (folder / s).is_dir()] or [folder]
    skipped: list[str] = []
    paths = [p for root in roots for p in _images(root, skipped)]
    if not paths:
        raise InputError(
            f"{folder}: no {role} images found (.nii.gz, .nii, .mha, .nrrd files, or "
            f"autoPET {_AUTOPET[role]}.nii.gz study folders)"
        )
    where = " (" + ", ".join(r.name for r in roots) + ")" if roots[0] != folder else ""
    flat: dict[str, Path] = {}
    split = [(p, *split_channel(case_stem(p))) for p in paths]
    channels = {c for _, _, c in split if c is not None}
    nnunet: dict[str, Path] | None = None
    how = ""
    if channels and all(c is not None for _, _, c in split):
        chosen = None if pet_channel is None else parse_channel(pet_channel)
        try:
            channel, how = _pet_channel(roots[0], channels, chosen) if role == "pet" else ("", "")
        except InputError:
            if chosen is not None or wanted is None or not wanted & {case_stem(p) for p in paths}:
                raise
            channel = None
        if role == "pet" and channel is not None:
            nnunet = {}
            for p, case, c in split:
                if c == channel:
                    _add(nnunet, case, p)
    if nnunet is not None:
        flat_ids = {case_stem(p) for p in paths}
        if wanted is None or len(wanted & set(nnunet)) >= len(wanted & flat_ids):
            return ImageSet(f"nnU-Net images{where}, {how}", nnunet, skipped=tuple(skipped))
    for p in paths:
        _add(flat, case_stem(p), p)
    kind = "nnU-Net labels" if where else "flat folder"
    return ImageSet(f"{kind}{where}{_formats(paths)}", flat, skipped=tuple(skipped))


def _method_folders(folder: Path) -> list[Path]:
    """Subfolders that may hold a method's masks (not hidden, not named like an image)."""
    return sorted(
        p for p in folder.iterdir() if p.name[0] != "." and image_suffix(p) is None and p.is_dir()
    )


@dataclass(frozen=True)
class Predictions:
    """Predicted masks keyed by method, then case id."""

    layout: str
    methods: dict[str, dict[str, Path]]
    skipped: tuple[str, ...] = ()


def not_a_mask_folder(path: Path) -> str:
    """The message for a predictions path that is not a folder (a mask file gets a hint).

    Examples
    --------
    >>> not_a_mask_folder(Path("preds/case_01.nii.gz"))
    'preds/case_01.nii.gz: folder not found'
    """
    if not path.exists():
        return f"{path}: folder not found"
    if image_suffix(path) is not None:
        return (
            f"{path}: a mask file, not a folder of masks; pass the folder that holds the "
            f"predicted masks (e.g. {path.parent}) with --reference and --pet"
        )
    return f"{path}: not a folder"


def find_predictions(folder: str | Path) -> Predictions:
    """Collect predicted masks: flat, one or two levels of method subfolders.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "pred"
    >>> for n in ["unet/dice/a.nii.gz", "unet/l1dfl/a.nii.gz"]:
    ...     (d / n).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (d / n).write_text("")
    >>> p = find_predictions(d)
    >>> p.layout, sorted(p.methods)
    ('method subfolders, two levels (network/loss)', ['unet/dice', 'unet/l1dfl'])
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(not_a_mask_folder(folder))
    autopet = _autopet(folder, "pred")
    if autopet is not None:
        name = folder.resolve().name
        return Predictions(autopet.layout, {name: autopet.files}, autopet.skipped)
    skipped: list[str] = []
    top = _images(folder, skipped)
    groups: dict[str, list[Path]] = {}
    if top:
        groups[folder.resolve().name] = top
        layout = "flat folder"
    else:
        depth = 0
        for sub in _method_folders(folder):
            files = _images(sub, skipped)
            if files:
                groups[sub.name] = files
                depth = max(depth, 1)
                continue
            for subsub in _method_folders(sub):
                files = _images(subsub, skipped)
                if files:
                    groups[f"{sub.name}/{subsub.name}"] = files
                    depth = 2
        layout = (
            "method subfolders" if depth == 1 else "method subfolders, two levels (network/loss)"
        )
    if not groups:
        raise InputError(
            f"{folder}: no prediction images found (.nii.gz, .nii, .mha, .nrrd files in the "
            "folder or in method subfolders)"
        )
    layout += _formats([p for files in groups.values() for p in files])
    methods: dict[str, dict[str, Path]] = {}
    for method, files in groups.items():
        cases: dict[str, Path] = {}
        for p in files:
            _add(cases, case_stem(p), p)
        methods[method] = cases
    return Predictions(layout, methods, tuple(skipped))


@dataclass(frozen=True)
class CaseJob:
    """One case: its reference, its PET and the prediction of each method.

    ``missing`` names the methods that have no prediction for this case (a reference case
    without any prediction has every method there). ``pet`` is None only for such a case
    whose PET volume is absent too.
    """

    case_id: str
    reference: Path
    pet: Path | None
    predictions: dict[str, Path]
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The paired cohort: jobs sorted by case id, the detected layout, what was left out.

    Every reference case is a job, so that a (case, method) pair without a prediction is
    listed (:meth:`missing_pairs`) whichever method lacks it.
    """

    layout: str
    jobs: list[CaseJob]
    methods: list[str]
    skipped: list[str]
    folders: dict[str, Path] = field(default_factory=dict)

    def shard(self, index: int, count: int) -> Plan:
        """Jobs ``index, index + count, ...`` (0-based ``index`` < ``count``)."""
        if count < 1 or not 0 <= index < count:
            raise ValueError(
                f"shard must be K/N with 0 <= K < N (K is 0-based); got {index}/{count}"
            )
        return Plan(self.layout, self.jobs[index::count], self.methods, self.skipped, self.folders)

    def missing_pairs(self) -> list[tuple[str, str, CaseJob]]:
        """``(case_id, method, job)`` for every reference case a method has no prediction for."""
        return [(job.case_id, m, job) for job in self.jobs for m in job.missing]


def _resolve(case_id: str, images: ImageSet) -> str | None:
    if images.get(case_id) is not None:
        return case_id
    stripped, channel = split_channel(case_id)
    if channel is not None and images.get(stripped) is not None:
        return stripped
    return None


def plan_cohort(
    pred: str | Path | None,
    reference: str | Path | None,
    pet: str | Path | None,
    *,
    pet_channel: str | int | None = None,
    datalist: str | Path | None = None,
) -> Plan:
    """Discover the three folders and pair every prediction with its reference and PET.

    ``pet_channel`` names the PET channel of nnU-Net images (see :func:`find_images`).
    ``datalist`` (a MONAI datalist JSON) replaces the three folders
    (:func:`agreement.measures.datalist.plan_datalist`).

    Raises
    ------
    InputError
        Empty folders, duplicate case ids, or a prediction without reference or PET (the
        message names the file).
    """
    if datalist is not None:
        if pred is not None or reference is not None or pet is not None:
            raise ValueError("pass a datalist or the PRED, reference and PET folders, not both")
        from agreement.measures.datalist import plan_datalist

        return plan_datalist(datalist, pet_channel=pet_channel)
    if pred is None or reference is None or pet is None:
        raise ValueError("pass the PRED, reference and PET folders (or a datalist)")
    preds = find_predictions(pred)
    all_ids = {c for cases in preds.methods.values() for c in cases}
    refs = find_images(reference, "reference")
    ref_ids = {c for c in (_resolve(i, refs) for i in all_ids) if c is not None} | set(refs.files)
    pets = find_images(pet, "pet", wanted=ref_ids, pet_channel=pet_channel)
    jobs: dict[str, dict[str, Path]] = {}
    for method, cases in preds.methods.items():
        for case_id, path in cases.items():
            ref_id = _resolve(case_id, refs)
            if ref_id is None:
                raise InputError(f"{path}: no reference mask for case {case_id!r} in {reference}")
            pet_path = pets.get(ref_id)
            if pet_path is None:
                raise InputError(f"{path}: no PET volume for case {ref_id!r} in {pet}")
            by_method = jobs.setdefault(ref_id, {})
            if method in by_method:
                raise InputError(
                    f"{path}: duplicate case id {ref_id!r} for method {method!r} "
                    f"(also {by_method[method]})"
                )
            by_method[method] = path
    used = {refs.get(c) for c in jobs}
    for case_id, path in refs.files.items():
        if path not in used:  # a reference case without any prediction
            jobs[case_id] = {}
    methods = sorted(preds.methods)
    plan_jobs = [
        CaseJob(
            c,
            refs.get(c),  # type: ignore[arg-type]
            pets.get(c),
            dict(sorted(m.items())),
            tuple(x for x in methods if x not in m),
        )
        for c, m in sorted(jobs.items())
    ]
    skipped = list(dict.fromkeys([*preds.skipped, *refs.skipped, *pets.skipped]))
    layout = (
        f"predictions: {preds.layout} ({len(preds.methods)} method(s)); "
        f"reference: {refs.layout}; PET: {pets.layout}"
    )
    folders = {  # where each method's masks are looked for, for messages
        m: Path(pred) if preds.layout.startswith("autoPET") else next(iter(c.values())).parent
        for m, c in preds.methods.items()
    }
    return Plan(layout, plan_jobs, methods, skipped, folders)
