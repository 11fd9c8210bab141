"""The papers' PET/CT data pipeline as MONAI dictionary transforms, with caching.

Input dictionaries come from :func:`segengine.data.io.datalist` (keys ``ct``, ``pet``,
``label``, ``case_id``); outputs have ``image`` (channel 0 CT in [0, 1], channel 1 PET in SUV)
and ``label``.

Deterministic part (cached by :func:`make_dataset`, so it runs once per case):
load, channel first, RAS orientation, crop to the body's bounding box, CT clip
[-1000, 3000] HU -> [0, 1] (PET SUV unchanged), resample to 2 mm (bilinear images, nearest
label), pad to the patch size (training). Random part (training only): patches centred on a
lesion voxel with probability pos / (pos + neg) = 4:1 (``RandCropByPosNegLabeld``; background
centres need PET > 0) and the papers' affine augmentation (translation up to 10 voxels,
rotation up to pi/15, scale 0.9-1.1).

``compat="reference"`` reproduces the published code (ObedDzik/pca_segment
``get_train_transforms``) where it differs from the papers: CT scaled by its own min and max
(no clip), the crop box bounds CT > 0 HU, and the affine is applied to half of the patches
and rotates about the third axis only.

Examples
--------
>>> from segengine.data.transforms import DataConfig, train_transforms
>>> config = DataConfig(spacing=(4.0, 4.0, 4.0), patch_size=(16, 16, 16))
>>> type(train_transforms(config)).__name__
'Compose'
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from monai.data import CacheDataset, Dataset, PersistentDataset
from monai.data.utils import pickle_hashing
from monai.transforms import (
    Compose,
    ConcatItemsd,
    CropForegroundd,
    DeleteItemsd,
    EnsureChannelFirstd,
    EnsureTyped,
    FgBgToIndicesd,
    LoadImaged,
    MapTransform,
    Orientationd,
    RandAffined,
    RandCropByPosNegLabeld,
    ScaleIntensityd,
    ScaleIntensityRanged,
    Spacingd,
    SpatialPadd,
)

from segengine.registry import check_compat

__all__ = [
    "DataConfig",
    "infer_transforms",
    "make_dataset",
    "train_transforms",
    "val_transforms",
]


@dataclass(frozen=True)
class DataConfig:
    """Settings of the data pipeline (papers' values by default).

    Attributes
    ----------
    spacing : tuple of float
        Target voxel size in mm (2 mm in the papers; coarser for tests).
    patch_size : tuple of int
        Training patch in voxels (128³ in the papers).
    pos, neg : float
        Ratio of lesion-centred to background-centred patches (4:1).
    num_samples : int
        Patches drawn per case and epoch.
    ct_range : tuple of float
        CT window in HU mapped to [0, 1] (clipped outside).
    body_threshold : float
        CT value in HU above which a voxel counts as body for the crop (paper mode).
    augment : bool
        Apply the random affine to training patches.
    affine_prob : float or None
        Probability of the affine; None means 1.0 (paper) or 0.5 (reference).
    translate : float
        Maximum translation in voxels along each axis.
    rotate : float
        Maximum rotation angle in radians.
    scale : float
        Maximum relative scaling (0.1 -> factors 0.9-1.1).
    precompute_indices : bool
        Compute the lesion/background voxel indices for patch sampling once (cached, int32,
        4 bytes per body voxel) instead of for every patch.
    compat : {None, "reference"}
        ``"reference"``: the published code's choices (module docstring); ``None``: the
        papers' (``"paper"`` is accepted with a FutureWarning and means ``None``).

    Examples
    --------
    >>> from segengine.data.transforms import DataConfig
    >>> DataConfig().patch_size
    (128, 128, 128)
    """

    spacing: tuple[float, float, float] = (2.0, 2.0, 2.0)
    patch_size: tuple[int, int, int] = (128, 128, 128)
    pos: float = 4.0
    neg: float = 1.0
    num_samples: int = 1
    ct_range: tuple[float, float] = (-1000.0, 3000.0)
    body_threshold: float = -500.0
    augment: bool = True
    affine_prob: float | None = None
    translate: float = 10.0
    rotate: float = math.pi / 15
    scale: float = 0.1
    precompute_indices: bool = True
    compat: Literal["reference"] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "compat", check_compat(self.compat))
        if len(self.spacing) != 3 or min(self.spacing) <= 0:
            raise ValueError(f"spacing must be 3 positive numbers, got {self.spacing!r}")
        if len(self.patch_size) != 3 or min(self.patch_size) < 1:
            raise ValueError(f"patch_size must be 3 positive integers, got {self.patch_size!r}")
        if self.pos < 0 or self.neg < 0 or self.pos + self.neg == 0:
            raise ValueError(f"pos and neg must be >= 0, not both 0, got {self.pos}, {self.neg}")
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {self.num_samples}")
        if not self.ct_range[0] < self.ct_range[1]:
            raise ValueError(f"ct_range must be increasing, got {self.ct_range!r}")
        if self.affine_prob is not None and not 0 <= self.affine_prob <= 1:
            raise ValueError(f"affine_prob must be in [0, 1], got {self.affine_prob}")


def _config(config: DataConfig | None, changes: dict[str, Any]) -> DataConfig:
    return replace(config or DataConfig(), **changes)


def _above(x: Any, threshold: float) -> Any:
    """Voxels above ``threshold`` (picklable ``select_fn`` for CropForegroundd)."""
    return x > threshold


def _preprocess(config: DataConfig, keys: Sequence[str]) -> list:
    """Deterministic steps: load, orient, crop to the body, CT intensity, resample."""
    images = [k for k in keys if k != "label"]
    modes = ["nearest" if k == "label" else "bilinear" for k in keys]
    if config.compat == "reference":
        crop_fn = functools.partial(_above, threshold=0.0)  # MONAI default: raw CT > 0
        ct_scale = ScaleIntensityd(keys="ct", minv=0.0, maxv=1.0)
    else:
        crop_fn = functools.partial(_above, threshold=config.body_threshold)
        low, high = config.ct_range
        ct_scale = ScaleIntensityRanged(
            keys="ct", a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True
        )
    return [
        LoadImaged(keys=keys, image_only=True),
        EnsureChannelFirstd(keys=keys),
        EnsureTyped(keys=images, dtype=np.float32, track_meta=True),
        Orientationd(keys=keys, axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S"))),
        CropForegroundd(keys=keys, source_key="ct", select_fn=crop_fn, allow_smaller=True),
        ct_scale,
        Spacingd(keys=keys, pixdim=config.spacing, mode=modes),
    ]


def _concat() -> list:
    return [ConcatItemsd(keys=["ct", "pet"], name="image", dim=0), DeleteItemsd(keys=["ct", "pet"])]


class _Cloned(MapTransform):
    """Copy tensors, so patches never share memory with a cached volume."""

    def __call__(self, data: Any) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = d[key].clone()
        return d


class _IndicesToInt32d(MapTransform):
    """Store voxel index arrays as int32 (half the cache of MONAI's int64 indices)."""

    def __call__(self, data: Any) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = torch.as_tensor(d[key]).to(torch.int32)
        return d


def train_transforms(config: DataConfig | None = None, **changes: Any) -> Compose:
    """Training transforms: preprocessing, 4:1 lesion/background patches, affine augmentation.

    The lesion and background voxel indices that ``RandCropByPosNegLabeld`` draws centres
    from are computed in the deterministic part (cached) when ``precompute_indices`` is set.

    Parameters
    ----------
    config : DataConfig, optional
        Pipeline settings; keyword ``changes`` replace single fields.

    Returns
    -------
    monai.transforms.Compose
        Applied to a file dictionary it returns a list of ``num_samples`` dictionaries with
        ``image`` (2, *patch_size) and ``label`` (1, *patch_size).

    Examples
    --------
    >>> from segengine.data.transforms import train_transforms
    >>> len(train_transforms(patch_size=(32, 32, 32), augment=False).transforms)
    14
    """
    config = _config(config, changes)
    keys = ["ct", "pet", "label"]
    steps = _preprocess(config, keys)
    steps.append(SpatialPadd(keys=keys, spatial_size=config.patch_size, mode="constant"))
    indices: dict[str, str] = {}
    if config.precompute_indices:
        # RandCropByPosNegLabeld pops these keys, so they never reach the patches
        indices = {"fg_indices_key": "label_fg_indices", "bg_indices_key": "label_bg_indices"}
        steps += [
            FgBgToIndicesd(keys="label", image_key="pet", image_threshold=0.0),
            _IndicesToInt32d(keys=list(indices.values())),
        ]
    steps.append(
        RandCropByPosNegLabeld(
            keys=keys,
            label_key="label",
            spatial_size=config.patch_size,
            pos=config.pos,
            neg=config.neg,
            num_samples=config.num_samples,
            image_key="pet",
            image_threshold=0.0,
            **indices,
        )
    )
    steps += [_Cloned(keys="label"), *_concat()]  # the concatenated image is a new tensor
    if config.augment:
        reference = config.compat == "reference"
        prob = config.affine_prob if config.affine_prob is not None else (0.5 if reference else 1.0)
        rotate = (0.0, 0.0, config.rotate) if reference else (config.rotate,) * 3
        steps.append(
            RandAffined(
                keys=["image", "label"],
                mode=["bilinear", "nearest"],
                prob=prob,
                spatial_size=config.patch_size,
                translate_range=(config.translate,) * 3,
                rotate_range=rotate,
                scale_range=(config.scale,) * 3,
                padding_mode="reflection",
                cache_grid=True,
            )
        )
    return Compose(steps)


def val_transforms(config: DataConfig | None = None, **changes: Any) -> Compose:
    """Validation transforms: the deterministic preprocessing of whole volumes, with label.

    Examples
    --------
    >>> from segengine.data.transforms import val_transforms
    >>> val_transforms().transforms[-2].name
    'image'
    """
    config = _config(config, changes)
    return Compose(_preprocess(config, ["ct", "pet", "label"]) + _concat())


class _CTOnPETGrid(MapTransform):
    """Resample the CT onto the PET's grid (bilinear, air outside the CT), as the papers' data did.

    The autoPET data the papers used ship a CT already resampled to the PET (``CTres``); a case
    whose CT has its own grid is brought there before the rest of the preprocessing.
    """

    def __init__(self, air: float = -1000.0) -> None:
        super().__init__(keys=["ct"])
        self.air = air

    def __call__(self, data: Any) -> dict:
        from monai.transforms import SpatialResample

        d = dict(data)
        pet = d["pet"]
        resample = SpatialResample(mode="bilinear", padding_mode="zeros", dtype=torch.float32)
        # zeros padding around (CT - air), then + air: voxels outside the CT read as air
        moved = resample(d["ct"] - self.air, dst_affine=pet.affine, spatial_size=pet.shape[1:])
        d["ct"] = moved + self.air
        return d


def infer_transforms(
    config: DataConfig | None = None, *, ct_on_pet_grid: bool = False, **changes: Any
) -> Compose:
    """Inference transforms: the deterministic preprocessing of CT and PET (no label).

    ``ct_on_pet_grid=True`` first resamples the CT onto the PET's grid (for a case whose CT
    and PET grids differ; air, -1000 HU, outside the CT).

    The output ``image`` is a MetaTensor whose affine is that of the cropped, resampled grid
    (its ``applied_operations`` list the steps), so predictions on it can be resampled back to
    the original PET grid from the two affines (``monai.transforms.SpatialResample``).

    Examples
    --------
    >>> from segengine.data.transforms import infer_transforms
    >>> infer_transforms().transforms[0].keys
    ('ct', 'pet')
    """
    config = _config(config, changes)
    steps = _preprocess(config, ["ct", "pet"])
    if ct_on_pet_grid:
        steps.insert(3, _CTOnPETGrid())  # after loading and typing, before orientation
    return Compose(steps + _concat())


def _hash_transforms(transforms: Sequence[Any]) -> bytes:
    """Hash of the deterministic transforms for cache names (LoadImaged's state changes on use)."""
    return pickle_hashing([t for t in transforms if not isinstance(t, LoadImaged)])


def make_dataset(
    files: Sequence[dict],
    transforms: Compose,
    *,
    cache: Literal["memory", "disk"] | None = "memory",
    cache_dir: str | Path | None = None,
    num_workers: int = 0,
) -> Dataset:
    """Dataset whose deterministic preprocessing runs once per case.

    Parameters
    ----------
    files : sequence of dict
        File dictionaries (:func:`segengine.data.io.datalist`).
    transforms : Compose
        From :func:`train_transforms` / :func:`val_transforms` / :func:`infer_transforms`.
    cache : {"memory", "disk", None}
        ``"memory"``: ``CacheDataset`` (everything up to the first random transform is kept in
        RAM); ``"disk"``: ``PersistentDataset`` in ``cache_dir`` (reused across runs; the file
        names hash the case paths and the deterministic transforms); None: no caching.
    cache_dir : str or Path, optional
        Required for ``cache="disk"``.
    num_workers : int
        Threads used to fill the memory cache.

    Returns
    -------
    monai.data.Dataset

    Examples
    --------
    >>> from segengine.data.transforms import make_dataset, val_transforms
    >>> type(make_dataset([], val_transforms(), cache=None)).__name__
    'Dataset'
    """
    files = list(files)
    if cache == "memory":
        # no deep copy of the cached volume per sample: the random steps only read it
        return CacheDataset(
            files,
            transforms,
            cache_rate=1.0,
            num_workers=max(num_workers, 1),
            progress=False,
            copy_cache=False,
        )
    if cache == "disk":
        if cache_dir is None:
            raise ValueError("cache='disk' needs cache_dir")
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        return PersistentDataset(
            files, transforms, cache_dir=cache_dir, hash_transform=_hash_transforms
        )
    if cache is None:
        return Dataset(files, transforms)
    raise ValueError(f"cache must be 'memory', 'disk' or None, got {cache!r}")
