"""Synthetic PSMA-like PET/CT phantoms written as an nnU-Net style dataset.

The generative model (anatomy, uptake values, lesion distributions, PSF, noise) is described
in ``docs/phantoms.md``. Everything is numpy/scipy: no torch, no monai.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage, special

from agreement.atomic import atomic_dir
from segengine.progress import Steps

GENERATOR_VERSION = "1"

#: Grid presets (voxels along x, y, z).
SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (32, 32, 48),
    "small": (64, 64, 96),
    "full": (192, 192, 320),
}

#: Cohort statistics of the papers (380 [18F]DCFPyL scans, 684 lesions; mean, SD).
COHORT = {
    "lesions_per_scan": (1.80, 1.30),
    "volume_ml": (6.68, 10.20),
    "suv_max": (12.65, 14.46),
    "suv_mean": (4.62, 3.88),
}

#: P(1..5 lesions) for a lesion-positive scan: maximum entropy on {1..5} with mean 1.80, SD 1.30.
COUNT_PROBS = np.array([0.643, 0.148, 0.065, 0.055, 0.089])

#: Truncated lognormals (mu, sigma, low, high) whose truncated mean and SD equal the cohort's.
VOLUME_LOGNORMAL = (1.1323, 1.2882, 0.2, 100.0)  # ml: 6.68 +/- 10.20
SUV_MAX_LOGNORMAL = (1.7939, 1.1359, 2.0, 120.0)  # SUV: 12.65 +/- 14.46
LOG_CORRELATION = 0.3  # Gaussian copula between log volume and log SUVmax

#: Lesion sites and their probabilities.
SITES = {"prostate_bed": 0.25, "pelvic_node": 0.40, "retroperitoneal_node": 0.15, "bone": 0.20}

# Tissue classes: name -> (CT HU, PET SUV mean, PET SUV SD between patients).
TISSUES: dict[str, tuple[float, float, float]] = {
    "air": (-1000.0, 0.0, 0.0),
    "fat": (-100.0, 0.25, 0.05),
    "soft": (40.0, 0.6, 0.1),
    "lung": (-850.0, 0.35, 0.08),
    "cortical": (800.0, 0.5, 0.1),
    "marrow": (250.0, 1.0, 0.25),
    "liver": (55.0, 5.0, 0.7),
    "spleen": (45.0, 4.0, 1.5),
    "kidney": (30.0, 19.8, 4.6),
    "bladder": (5.0, 15.0, 8.0),
    "bowel": (25.0, 6.0, 2.0),
    "gas": (-900.0, 0.0, 0.0),
    "parotid": (20.0, 9.1, 2.0),
    "submandibular": (40.0, 9.6, 2.3),
    "blood": (40.0, 1.5, 0.3),
    "brain": (35.0, 0.1, 0.03),
}
_TISSUE_ID = {name: i for i, name in enumerate(TISSUES)}
_HOT = [_TISSUE_ID[n] for n in ("liver", "spleen", "kidney", "bladder", "bowel", "gas")]
_HOT += [_TISSUE_ID[n] for n in ("parotid", "submandibular", "air")]

_MODEL_EXTENT = np.array([380.0, 260.0, 950.0])  # model patient (mm): width, depth, length
_FILL = 0.92  # fraction of the field of view the model patient may fill
_CONN18 = ndimage.generate_binary_structure(3, 2)


@dataclass(frozen=True)
class _Grid:
    """Voxel grid; model millimetres map to physical ones by a per-axis ``scale`` <= 1."""

    shape: tuple[int, int, int]
    spacing: np.ndarray
    scale: np.ndarray

    @classmethod
    def make(cls, shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> _Grid:
        sp = np.asarray(spacing, dtype=float)
        fov = np.asarray(shape) * sp
        k = np.minimum(1.0, _FILL * fov / _MODEL_EXTENT)
        k[:2] = k[:2].min()  # keep the transverse proportions
        return cls(tuple(int(n) for n in shape), sp, k)

    @property
    def affine(self) -> np.ndarray:
        aff = np.diag([*self.spacing, 1.0])
        aff[:3, 3] = -(np.asarray(self.shape) - 1) / 2 * self.spacing
        return aff

    def coords(self, axis: int, part: slice = slice(None)) -> np.ndarray:
        """Model-mm coordinate of the voxels along ``axis`` (or ``part`` of it), broadcastable."""
        n = self.shape[axis]
        c = (np.arange(n)[part] - (n - 1) / 2) * self.spacing[axis] / self.scale[axis]
        shape = [1, 1, 1]
        shape[axis] = c.size
        return c.reshape(shape)

    def index(self, model_mm: np.ndarray) -> np.ndarray:
        """Fractional voxel index of a model-mm point."""
        return model_mm * self.scale / self.spacing + (np.asarray(self.shape) - 1) / 2

    def box(self, centre: np.ndarray, semi: np.ndarray) -> tuple[slice, ...] | None:
        lo = np.floor(self.index(centre - semi)).astype(int)
        hi = np.ceil(self.index(centre + semi)).astype(int) + 1
        lo, hi = np.maximum(lo, 0), np.minimum(hi, self.shape)
        if np.any(hi <= lo):
            return None
        return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))


def _ellipsoid(grid: _Grid, centre, semi) -> tuple[tuple[slice, ...], np.ndarray] | None:
    """Boolean mask of an axis-aligned ellipsoid (model mm) inside its bounding box."""
    centre, semi = np.asarray(centre, float), np.asarray(semi, float)
    box = grid.box(centre, semi)
    if box is None:
        return None
    r2 = sum(((grid.coords(a, box[a]) - centre[a]) / semi[a]) ** 2 for a in range(3))
    return box, r2 <= 1.0


def _paint(
    tissue: np.ndarray,
    grid: _Grid,
    name: str,
    centre,
    semi,
    shell: str | None = None,
    thickness: float = 0.0,
) -> None:
    """Paint an ellipsoid; with ``shell`` the outer ``thickness`` mm get that tissue."""
    found = _ellipsoid(grid, centre, semi)
    if found is None:
        return
    box, mask = found
    view = tissue[box]
    if shell is None:
        view[mask] = _TISSUE_ID[name]
        return
    view[mask] = _TISSUE_ID[shell]
    inner = _ellipsoid(grid, centre, np.asarray(semi, float) - thickness)
    if inner is not None:
        ibox, imask = inner
        tissue[ibox][imask] = _TISSUE_ID[name]


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], sigma) -> np.ndarray:
    """Zero-mean, unit-SD smooth Gaussian random field."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-12)


def _anatomy(grid: _Grid, rng: np.random.Generator) -> np.ndarray:
    """Tissue label map of one model patient (see docs/phantoms.md for the layout)."""
    x, y, z = grid.coords(0), grid.coords(1), grid.coords(2)
    tissue = np.zeros(grid.shape, dtype=np.uint8)
    # Torso and neck: ellipse semi-axes interpolated along z, scaled per patient.
    girth = rng.uniform(0.9, 1.1)
    zk = [-440, -400, -300, -220, -100, 0, 100, 230, 280, 300, 340]
    ak = np.array([150, 165, 170, 160, 155, 160, 170, 175, 120, 55, 55]) * girth
    bk = np.array([100, 110, 115, 105, 105, 110, 115, 110, 80, 55, 55]) * girth
    a, b = np.interp(z, zk, ak), np.interp(z, zk, bk)
    in_z = (z >= -440) & (z <= 340)
    r = np.sqrt((x / a) ** 2 + (y / b) ** 2)
    fat = rng.uniform(8.0, 30.0) / ak.mean()  # subcutaneous fat, relative thickness
    tissue[(r <= 1) & in_z] = _TISSUE_ID["fat"]
    tissue[(r <= 1 - fat) & in_z] = _TISSUE_ID["soft"]
    for side in (-1, 1):  # thighs with femora
        rt = np.sqrt(((x - side * 85) / 75) ** 2 + (y / 80) ** 2)
        legs = z < -440
        tissue[(rt <= 1) & legs] = _TISSUE_ID["fat"]
        tissue[(rt <= 0.8) & legs] = _TISSUE_ID["soft"]
        rf = np.sqrt((x - side * 85) ** 2 + y**2)
        tissue[(rf <= 15) & legs] = _TISSUE_ID["cortical"]
        tissue[(rf <= 9) & legs] = _TISSUE_ID["marrow"]
    # Head: face soft tissue, skull and brain.
    _paint(tissue, grid, "soft", (0, 0, 380), (75, 90, 95))
    _paint(tissue, grid, "brain", (0, 0, 405), (72, 87, 70), shell="cortical", thickness=7)
    for side in (-1, 1):
        _paint(tissue, grid, "parotid", (side * 55, 5, 360), (16, 20, 25))
        _paint(tissue, grid, "submandibular", (side * 38, 35, 330), (12, 13, 11))
        _paint(tissue, grid, "lung", (side * 80, 0, 165), (60, 80, 125))
    _paint(tissue, grid, "blood", (-15, 35, 130), (50, 45, 50))  # heart
    _paint(tissue, grid, "liver", (75, 15, 20), (85, 75, 65))
    _paint(tissue, grid, "spleen", (-85, -35, 30), (30, 40, 50))
    for side in (-1, 1):
        _paint(tissue, grid, "kidney", (side * 70, -45, -70), (25, 22, 50))
    # Bowel loops: a thresholded smooth random field inside the lower abdomen, gas in places.
    found = _ellipsoid(grid, (0, 30, -150), (110, 70, 80))
    if found is not None:
        box, region = found
        sigma = np.maximum(12.0 * grid.scale / grid.spacing, 0.7)
        field = _smooth_field(rng, region.shape, sigma)
        view = tissue[box]
        view[region & (field > 0.2)] = _TISSUE_ID["bowel"]
        view[region & (field > 1.6)] = _TISSUE_ID["gas"]
    fill = rng.uniform(0.6, 1.4) ** (1 / 3)
    _paint(tissue, grid, "bladder", (0, 35, -320), np.array([45, 40, 35]) * fill)
    # Aorta, spine (discs every 35 mm), pelvis and femoral heads.
    aorta = (np.sqrt((x + 12) ** 2 + (y + 40) ** 2) <= 11) & (z >= -230) & (z <= 110)
    tissue[aorta] = _TISSUE_ID["blood"]
    rs = np.sqrt((x / 20) ** 2 + ((y + 75) / 17) ** 2)
    spine_z = (z >= -260) & (z <= 300)
    tissue[(rs <= 1) & spine_z] = _TISSUE_ID["cortical"]
    tissue[(rs <= 0.75) & spine_z] = _TISSUE_ID["marrow"]
    tissue[(rs <= 1) & spine_z & (np.mod(z, 35) < 7)] = _TISSUE_ID["soft"]
    for side in (-1, 1):
        _paint(tissue, grid, "marrow", (side * 105, -30, -270), (30, 55, 65), "cortical", 5)
        _paint(tissue, grid, "marrow", (side * 95, 0, -385), (25, 25, 25), "cortical", 5)
        _paint(tissue, grid, "marrow", (side * 35, 60, -380), (40, 15, 15), "cortical", 4)
    _paint(tissue, grid, "marrow", (0, -85, -300), (45, 22, 60), "cortical", 5)  # sacrum
    return tissue


def _anchors(tissue: np.ndarray, grid: _Grid) -> dict[str, np.ndarray]:
    """Per-case landmarks: candidate bone voxels and the bottom of the bladder (voxel index)."""
    z = grid.coords(2)
    bone = np.isin(tissue, [_TISSUE_ID["cortical"], _TISSUE_ID["marrow"]])
    anchors = {"bone": np.flatnonzero(bone & (z < 250) & (z > -420))}
    bladder = np.argwhere(tissue == _TISSUE_ID["bladder"])
    if bladder.size:
        low = bladder[bladder[:, 2] == bladder[:, 2].min()]
        anchors["bladder_bottom"] = np.append(low[:, :2].mean(0), low[0, 2])
    return anchors


def _site_centre(site: str, rng: np.random.Generator, anchors: dict, grid: _Grid, radius_mm: float):
    """Fractional voxel index of the centre of a lesion of ``radius_mm`` drawn at ``site``."""
    if site == "bone":
        if anchors["bone"].size == 0:
            return None
        return np.array(np.unravel_index(rng.choice(anchors["bone"]), grid.shape), dtype=float)
    if site == "prostate_bed" and "bladder_bottom" in anchors:
        # just below and behind the bladder neck (vesicourethral anastomosis)
        offset = np.array([0.0, -0.3, -1.0]) * (radius_mm + 4.0) + rng.normal(0, 3, 3)
        return anchors["bladder_bottom"] + offset / grid.spacing
    side = rng.choice([-1.0, 1.0])
    if site == "prostate_bed":
        mm = np.array([0.0, 10.0, -375.0]) + rng.normal(0, 6, 3)  # no bladder in the field
    elif site == "pelvic_node":
        t = rng.uniform()
        if rng.uniform() < 0.6:  # common and external iliac chain
            start, end = np.array([20.0, -35, -220]), np.array([70.0, 30, -360])
        else:  # internal iliac and obturator
            start, end = np.array([35.0, -20, -260]), np.array([55.0, 20, -350])
        mm = start + t * (end - start) + rng.normal(0, 8, 3)
        mm[0] *= side
    else:  # retroperitoneal (para-aortic, interaortocaval) nodes
        mm = np.array([rng.uniform(-40, 15), rng.uniform(-55, -25), rng.uniform(-220, -60)])
    return grid.index(mm)


def _blob(rng: np.random.Generator, grid: _Grid, centre: np.ndarray, volume_ml: float):
    """Smooth irregular star-shaped blob of ``volume_ml`` around ``centre`` (voxel index)."""
    voxel_ml = float(np.prod(grid.spacing)) / 1000.0
    n = max(1, int(round(volume_ml / voxel_ml)))
    r_eq = (3 * volume_ml * 1000 / (4 * np.pi)) ** (1 / 3)  # mm
    half = np.ceil(2.6 * r_eq / grid.spacing).astype(int) + 1
    c = np.round(centre).astype(int)
    lo, hi = np.maximum(c - half, 0), np.minimum(c + half + 1, grid.shape)
    if np.any(hi <= lo):
        return None
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    d = np.stack(
        np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij"), axis=-1
    ).astype(float)
    d = (d - centre + rng.uniform(-0.5, 0.5, 3)) * grid.spacing  # mm offsets
    rot, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    stretch = np.exp(rng.normal(0, 0.15, 3))
    q = (d @ rot) / (stretch / np.prod(stretch) ** (1 / 3))
    rho = np.linalg.norm(q, axis=-1)
    u = q / np.maximum(rho, 1e-9)[..., None]
    waves = rng.standard_normal((4, 3))
    waves /= np.linalg.norm(waves, axis=1, keepdims=True)
    phase = u @ waves.T * rng.uniform(1.5, 3.5, 4) + rng.uniform(0, 2 * np.pi, 4)
    s = rho / np.exp(np.cos(phase) @ rng.uniform(0.04, 0.12, 4))
    flat = s.ravel()
    n = min(n, flat.size)
    keep = np.zeros(flat.size, dtype=bool)
    keep[np.argpartition(flat, n - 1)[:n]] = True
    mask = keep.reshape(s.shape)
    labels, count = ndimage.label(mask, structure=_CONN18)
    if count > 1:  # keep the largest 18-connected piece
        mask = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    edge = s[mask].max()
    profile = np.where(mask, 1.0 - s / max(edge, 1e-9), 0.0)
    return box, mask, profile


def _draw_lesions(rng: np.random.Generator, negative_fraction: float) -> list[tuple]:
    """Per lesion: (site, target volume ml, target SUVmax)."""
    if rng.uniform() < negative_fraction:
        return []
    n = int(rng.choice(np.arange(1, 6), p=COUNT_PROBS))
    names, probs = list(SITES), np.array(list(SITES.values()))
    sites = []
    for _ in range(n):
        p = probs.copy()
        if "prostate_bed" in sites:  # a single local recurrence
            p[names.index("prostate_bed")] = 0.0
        sites.append(str(rng.choice(names, p=p / p.sum())))
    z = rng.multivariate_normal([0, 0], [[1, LOG_CORRELATION], [LOG_CORRELATION, 1]], size=n)
    vol = _truncated_lognormal(special.ndtr(z[:, 0]), *VOLUME_LOGNORMAL)
    suv = _truncated_lognormal(special.ndtr(z[:, 1]), *SUV_MAX_LOGNORMAL)
    return list(zip(sites, vol, suv, strict=True))


def _truncated_lognormal(u: np.ndarray, mu: float, sigma: float, low: float, high: float):
    """Inverse CDF of a lognormal truncated to [low, high] at probabilities ``u``."""
    a = special.ndtr((np.log(low) - mu) / sigma)
    b = special.ndtr((np.log(high) - mu) / sigma)
    return np.exp(mu + sigma * special.ndtri(a + u * (b - a)))


def _gain(base: np.ndarray, shape: np.ndarray, noise: np.ndarray, target: float) -> float:
    """Lesion gain g such that max(base + g shape + sqrt(base + g shape) noise) = target.

    ``base`` is the blurred background, ``shape`` the blurred unit lesion and ``noise`` the
    (already scaled) standard normal noise at the lesion voxels; solved by bisection so that
    the measured SUVmax of the noisy image equals the drawn one. The lesion keeps a minimum
    contrast (0.5 SUV at its peak) when the background alone already reaches ``target``.
    """

    def peak(g: float) -> float:
        value = base + g * shape
        return float(np.max(value + np.sqrt(np.maximum(value, 0)) * noise))

    low = 0.5 / shape.max()
    if peak(low) >= target:
        return low
    high = 2 * target / shape.max()
    while peak(high) < target:
        high *= 2
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if peak(mid) < target else (low, mid)
    return (low + high) / 2


def _place(
    rng: np.random.Generator,
    grid: _Grid,
    anchors: dict[str, np.ndarray],
    taken: np.ndarray,
    hot: np.ndarray,
    pet: np.ndarray,
    site: str,
    vol: float,
    suv_max: float,
) -> tuple[str, tuple[slice, ...], np.ndarray, np.ndarray] | None:
    """Find a free spot for a lesion; returns (site, box, mask, profile) or None.

    The lesion must not touch earlier lesions (one-voxel gap, so that each lesion is its own
    18-connected component). For 45 attempts it must also avoid hot organs, air and places
    where the blurred background exceeds half its SUVmax; after 15 and 30 failed attempts at a
    crowded site (small grids) another site is drawn.
    """
    radius_mm = (0.75 * vol / np.pi) ** (1 / 3) * 10
    for attempt in range(60):
        if attempt in (15, 30):
            site = str(rng.choice(list(SITES), p=list(SITES.values())))
        centre = _site_centre(site, rng, anchors, grid, radius_mm)
        found = None if centre is None else _blob(rng, grid, centre, vol)
        if found is None:
            continue
        box, mask, profile = found
        if np.any(taken[box] & mask):
            continue
        if attempt < 45 and (np.any(hot[box] & mask) or pet[box][mask].max() > 0.5 * suv_max):
            continue
        return site, box, mask, profile
    return None


def _case(
    grid: _Grid,
    rng: np.random.Generator,
    *,
    negative_fraction: float,
    fwhm_mm: float,
    counts_per_suv: float | None,
):
    """One case: CT (int16 HU), PET (float32 SUV), mask (uint8), lesion rows, lesions lost."""
    tissue = _anatomy(grid, rng)
    hu = np.array([v[0] for v in TISSUES.values()])
    suv = np.array([max(rng.normal(m, s), 0.2 * m) for m, s in (v[1:] for v in TISSUES.values())])
    ct = hu[tissue]
    activity = suv[tissue] * (1 + 0.08 * _smooth_field(rng, grid.shape, 2.0))
    sigma = fwhm_mm / np.sqrt(8 * np.log(2)) / grid.spacing
    pet = ndimage.gaussian_filter(activity, sigma, mode="nearest") if fwhm_mm > 0 else activity
    label = np.zeros(grid.shape, dtype=np.uint8)
    taken = np.zeros(grid.shape, dtype=bool)
    hot = np.isin(tissue, _HOT)
    pad = np.ceil(4 * sigma).astype(int) + 1
    anchors = _anchors(tissue, grid)
    noise = rng.standard_normal(grid.shape)
    scale = 0.0 if counts_per_suv is None else 1.0 / counts_per_suv
    rows, dropped = [], 0
    for site, vol, suv_max in _draw_lesions(rng, negative_fraction):
        placed = _place(rng, grid, anchors, taken, hot, pet, site, vol, suv_max)
        if placed is None:
            dropped += 1
            continue
        site, box, mask, profile = placed
        # Activity peaks at the centre and falls to a low floor at the edge; the lesion is
        # blurred alone inside a padded box (the PSF is linear) and scaled so that the noisy
        # image's SUVmax in the mask equals the drawn SUVmax.
        floor = rng.uniform(0.03, 0.15)
        lesion = np.where(mask, floor + (1 - floor) * profile ** rng.uniform(2.0, 4.0), 0.0)
        lo = [max(s.start - p, 0) for s, p in zip(box, pad, strict=True)]
        hi = [min(s.stop + p, n) for s, p, n in zip(box, pad, grid.shape, strict=True)]
        big = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        inner = tuple(slice(s.start - a, s.stop - a) for s, a in zip(box, lo, strict=True))
        embed = np.zeros([b - a for a, b in zip(lo, hi, strict=True)])
        embed[inner] = lesion
        blurred = ndimage.gaussian_filter(embed, sigma, mode="constant") if fwhm_mm > 0 else embed
        local_noise = noise[box][mask] * np.sqrt(scale)
        gain = _gain(pet[box][mask], blurred[inner][mask], local_noise, suv_max)
        pet[big] += gain * blurred
        label[box][mask] = 1
        taken[box] |= ndimage.binary_dilation(mask, structure=np.ones((3, 3, 3), bool))
        if site == "bone":  # sclerotic in 60 % of bone lesions
            ct[box][mask & (ct[box] > 100) & (rng.uniform() < 0.6)] += 300.0
        else:  # enlarged node / local recurrence: soft tissue instead of fat
            ct[box][mask & (ct[box] < 0)] = TISSUES["soft"][0]
        rows.append((site, vol, suv_max, box, mask))
    pet = pet + np.sqrt(np.maximum(pet, 0) * scale) * noise  # Poisson-like: variance ~ SUV
    pet = np.maximum(pet, 0).astype(np.float32)
    ct = ndimage.gaussian_filter(ct, 0.6) + rng.normal(0, 12, grid.shape)
    ct = np.clip(np.round(ct), -1024, 3071).astype(np.int16)
    lesions = [_lesion_row(i, *row, pet, grid) for i, row in enumerate(rows, start=1)]
    return ct, pet, label, lesions, dropped


def _lesion_row(i, site, vol, suv_max, box, mask, pet, grid) -> dict[str, object]:
    """The phantoms.csv row of one lesion, measured on the final PET and mask."""
    values = pet[box][mask]
    voxels = int(mask.sum())
    centre = np.argwhere(mask).mean(0) + [s.start for s in box]
    world = grid.affine @ np.append(centre, 1.0)
    return {
        "lesion_id": i,
        "site": site,
        "voxels": voxels,
        "volume_ml": round(voxels * float(np.prod(grid.spacing)) / 1000, 6),
        "suv_max": round(float(values.max()), 6),
        "suv_mean": round(float(values.mean()), 6),
        "volume_ml_target": round(float(vol), 6),
        "suv_max_target": round(float(suv_max), 6),
        "centre_x_mm": round(float(world[0]), 3),
        "centre_y_mm": round(float(world[1]), 3),
        "centre_z_mm": round(float(world[2]), 3),
    }


def _save(array: np.ndarray, affine: np.ndarray, path: Path, description: str) -> None:
    """Write a NIfTI with a fully determined header (qform = sform = affine, code 1, mm)."""
    img = nib.Nifti1Image(array, affine)
    img.set_data_dtype(array.dtype)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    img.header["descrip"] = description.encode()[:79]
    nib.save(img, os.fspath(path))


def _splits(case_ids: list[str], counts: list[int], folds: int, seed: int) -> list[dict]:
    """Folds stratified by negative / one / several lesions, shuffled with the seed."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    order = rng.permutation(len(case_ids))
    group = np.minimum(np.asarray(counts), 2)[order]
    order = order[np.argsort(group, kind="stable")]
    fold_of = np.empty(len(case_ids), dtype=int)
    fold_of[order] = np.arange(len(case_ids)) % folds
    return [
        {
            "train": [c for c, f in zip(case_ids, fold_of, strict=True) if f != k],
            "val": [c for c, f in zip(case_ids, fold_of, strict=True) if f == k],
        }
        for k in range(folds)
    ]


def _parse_shape(shape) -> tuple[int, int, int]:
    if shape is None:
        return SIZES["small"]
    if isinstance(shape, str):
        if shape not in SIZES:
            raise ValueError(f"shape must be one of {sorted(SIZES)} or 3 integers, got {shape!r}")
        return SIZES[shape]
    dims = tuple(int(n) for n in shape)
    if len(dims) != 3 or min(dims) < 16:
        raise ValueError(f"shape must be 3 integers >= 16, got {shape!r}")
    return dims


def make_phantoms(
    out_dir: str | os.PathLike[str],
    cases: int,
    seed: int,
    *,
    shape: tuple[int, int, int] | str | None = None,
    spacing: tuple[float, float, float] = (3.64, 3.64, 3.27),
    negative_fraction: float = 0.1,
    fwhm_mm: float = 6.0,
    counts_per_suv: float | None = 15.0,
    folds: int = 5,
    test_cases: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write a synthetic PSMA-like PET/CT cohort in the nnU-Net v2 raw layout.

    Parameters
    ----------
    out_dir : path
        Output folder, created atomically (refused if it exists, unless ``overwrite``).
    cases : int
        Number of cases, named ``PSMA_0000``, ``PSMA_0001``, ...
    seed : int
        Master seed. Case ``i`` depends only on ``seed``, ``i`` and the grid, not on ``cases``;
        the same arguments give byte-identical files.
    shape : {"tiny", "small", "full"} or (int, int, int), optional
        Grid preset, (32, 32, 48), (64, 64, 96) or (192, 192, 320) voxels, or explicit
        dimensions; default ``"small"``. Smaller grids hold a proportionally smaller patient
        but lesions keep their size in millilitres.
    spacing : (float, float, float)
        Voxel size in mm (the PET grid of the papers by default). CT is on the same grid.
    negative_fraction : float
        Probability that a case has no lesion; the others have 1-5 lesions.
    fwhm_mm : float
        Full width at half maximum of the Gaussian PSF applied to the PET (0 disables it).
    counts_per_suv : float or None
        Noise level: the PET noise variance is SUV / ``counts_per_suv`` (None disables noise).
    folds : int
        Number of cross-validation folds in ``splits_final.json``.
    test_cases : int
        Number of held-out cases written to ``imagesTs``/``labelsTs`` after the training cases
        (ids continue the numbering; they are in no fold).
    overwrite : bool
        Replace an existing ``out_dir``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``out_dir``, holding ``imagesTr/<case>_0000.nii.gz`` (CT, HU),
        ``imagesTr/<case>_0001.nii.gz`` (PET, SUV), ``labelsTr/<case>.nii.gz`` (0/1),
        ``dataset.json``, ``splits_final.json`` and ``phantoms.csv`` (one row per lesion;
        ``subset`` is ``train`` or ``test``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = make_phantoms(pathlib.Path(tempfile.mkdtemp()) / "ph", 2, seed=0,
    ...                     shape="tiny", folds=2, progress=False)
    >>> sorted(p.name for p in (out / "labelsTr").iterdir())
    ['PSMA_0000.nii.gz', 'PSMA_0001.nii.gz']
    """
    if int(cases) != cases or cases < 1:
        raise ValueError(f"cases must be a positive integer, got {cases!r}")
    if int(folds) != folds or not 2 <= folds <= cases:
        raise ValueError(f"folds must be an integer in [2, cases={cases}], got {folds!r}")
    if not 0 <= negative_fraction < 1:
        raise ValueError(f"negative_fraction must be in [0, 1), got {negative_fraction!r}")
    if fwhm_mm < 0:
        raise ValueError(f"fwhm_mm must be >= 0, got {fwhm_mm!r}")
    if counts_per_suv is not None and not counts_per_suv > 0:
        raise ValueError(f"counts_per_suv must be > 0 or None, got {counts_per_suv!r}")
    if len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError(f"spacing must be 3 positive numbers, got {spacing!r}")
    if int(test_cases) != test_cases or test_cases < 0:
        raise ValueError(f"test_cases must be a non-negative integer, got {test_cases!r}")
    grid = _Grid.make(_parse_shape(shape), tuple(float(s) for s in spacing))
    total = int(cases) + int(test_cases)
    case_ids = [f"PSMA_{i:0{max(4, len(str(total - 1)))}d}" for i in range(total)]
    out = Path(out_dir)
    rows, counts, dropped = [], [], 0
    with atomic_dir(out, overwrite=overwrite) as tmp:
        steps = Steps(case_ids, desc="phantoms", unit="case", enabled=progress)
        for i, case in enumerate(steps):
            subset, suffix = ("train", "Tr") if i < cases else ("test", "Ts")
            images, labels = tmp / f"images{suffix}", tmp / f"labels{suffix}"
            images.mkdir(exist_ok=True)
            labels.mkdir(exist_ok=True)
            rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0, i)))
            ct, pet, label, lesions, lost = _case(
                grid,
                rng,
                negative_fraction=negative_fraction,
                fwhm_mm=fwhm_mm,
                counts_per_suv=counts_per_suv,
            )
            _save(ct, grid.affine, images / f"{case}_0000.nii.gz", "CT HU")
            _save(pet, grid.affine, images / f"{case}_0001.nii.gz", "PET SUVbw")
            _save(label, grid.affine, labels / f"{case}.nii.gz", "lesion mask")
            rows += [{"case_id": case, "subset": subset, **row} for row in lesions]
            counts.append(len(lesions))
            dropped += lost
            steps.done(case)
        steps.close()
        dataset = {
            "name": "PSMA phantoms",
            "description": "Synthetic PSMA-like PET/CT cohort (segengine.make_phantoms)",
            "channel_names": {"0": "CT", "1": "PET"},
            "labels": {"background": 0, "lesion": 1},
            "numTraining": int(cases),
            "numTest": int(test_cases),
            "file_ending": ".nii.gz",
            "generator": "segengine.data.phantoms",
            "generator_version": GENERATOR_VERSION,
            "seed": int(seed),
            "shape": list(grid.shape),
            "spacing": [float(s) for s in grid.spacing],
            "negative_fraction": float(negative_fraction),
            "psf_fwhm_mm": float(fwhm_mm),
            "counts_per_suv": None if counts_per_suv is None else float(counts_per_suv),
            "numLesions": len(rows),
            "lesions_not_placed": dropped,
        }
        (tmp / "dataset.json").write_text(json.dumps(dataset, indent=2) + "\n")
        splits = _splits(case_ids[:cases], counts[:cases], int(folds), int(seed))
        (tmp / "splits_final.json").write_text(json.dumps(splits, indent=2) + "\n")
        _write_csv(rows, tmp / "phantoms.csv")
    return out


_CSV_COLUMNS = [
    "case_id",
    "subset",
    "lesion_id",
    "site",
    "voxels",
    "volume_ml",
    "suv_max",
    "suv_mean",
    "volume_ml_target",
    "suv_max_target",
    "centre_x_mm",
    "centre_y_mm",
    "centre_z_mm",
]


def _write_csv(rows: list[dict], path: Path) -> None:
    lines = [",".join(_CSV_COLUMNS)]
    lines += [",".join(str(row[c]) for c in _CSV_COLUMNS) for row in rows]
    path.write_text("\n".join(lines) + "\n")
