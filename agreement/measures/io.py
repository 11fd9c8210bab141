"""Read volumes (NIfTI, MHA, NRRD, Slicer and DICOM SEG), check their grids and values, resample a mask.

:data:`READERS` maps a file suffix to its reader; adding a format is one reader and one entry.

Axis order: arrays are returned in NIfTI voxel order ``(i, j, k)`` as nibabel reads them
(for a usual scan: x, y, z). Files read with SimpleITK are transposed from its ``(z, y, x)``
order into this order and their LPS geometry converted to a RAS affine, so every format
gives the same array, spacing and affine. ``spacing`` is in mm, in the array's axis order,
and comes from the affine (the length of each column of its 3×3 part), never from pixdim.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agreement.errors import InputError

Reader = Callable[[Path, "np.dtype | type | None"], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D array with its geometry.

    Attributes
    ----------
    array : numpy.ndarray
        Voxel values, axis order ``(i, j, k)`` (NIfTI voxel order).
    spacing : tuple of float
        Voxel size in mm, in the array's axis order.
    affine : numpy.ndarray
        4×4 voxel-to-world (RAS, mm) matrix.
    path : pathlib.Path or None
        The file it came from.
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    path: Path | None = None

    @property
    def name(self) -> str:
        """The file name used in messages."""
        return str(self.path) if self.path is not None else "<array>"

    @property
    def voxel_ml(self) -> float:
        """Volume of one voxel in ml."""
        return float(np.prod(self.spacing)) / 1000.0

    def __repr__(self) -> str:
        sp = ", ".join(f"{s:g}" for s in self.spacing)
        return (
            f"Volume({self.name}, shape={self.array.shape}, spacing=({sp}) mm, {self.array.dtype})"
        )


def image_suffix(path: str | os.PathLike[str]) -> str | None:
    """The supported image suffix of ``path`` (lower case) or None.

    Examples
    --------
    >>> image_suffix("case_01_0000.nii.gz"), image_suffix("notes.txt")
    ('.nii.gz', None)
    """
    name = Path(path).name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def spacing_from_affine(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel size (mm) along each array axis: the column norms of the affine's 3×3 part.

    Examples
    --------
    >>> spacing_from_affine(np.diag([-4.0, 4.0, 3.0, 1.0]))
    (4.0, 4.0, 3.0)
    """
    cols = np.sqrt((np.asarray(affine, dtype=float)[:3, :3] ** 2).sum(axis=0))
    return (float(cols[0]), float(cols[1]), float(cols[2]))


def load_volume(path: str | os.PathLike[str], *, dtype: np.dtype | type | None = None) -> Volume:
    """Read a 3-D volume (NIfTI with nibabel; MHA/NRRD with SimpleITK; DICOM SEG with highdicom).

    Parameters
    ----------
    path : path-like
        ``.nii.gz``, ``.nii``, ``.mha``/``.mhd``, ``.nrrd``/``.nhdr``, a 3D Slicer
        ``.seg.nrrd`` or a DICOM SEG ``.dcm`` (see :data:`READERS`).
    dtype : numpy dtype, optional
        Convert the data (e.g. ``np.float32`` for PET; scaling slopes are applied). By default a
        NIfTI file keeps its stored dtype (scaled data become float).

    Returns
    -------
    Volume
        Array in NIfTI voxel order, spacing (mm) from the affine, RAS affine, path.

    Raises
    ------
    InputError
        Missing, truncated or unreadable file, an unsupported suffix, or data that is not 3-D
        (a trailing axis of length 1 is dropped).

    Warns
    -----
    UserWarning
        When the header's pixdim disagrees with the affine, or qform and sform disagree.

    Examples
    --------
    >>> import tempfile, pathlib, nibabel as nib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.nii.gz"
    >>> nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.uint8), np.diag([2.0, 2, 3, 1])), p)
    >>> v = load_volume(p)
    >>> v.array.shape, v.spacing
    ((4, 5, 6), (2.0, 2.0, 3.0))
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    suffix = image_suffix(path)
    if suffix is None:
        raise InputError(f"{path}: not a supported image file (use {', '.join(SUFFIXES)})")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied; cannot read it")
    array, affine = READERS[suffix](path, dtype)
    if array.ndim > 3:
        array = array.reshape(array.shape[:3] + tuple(s for s in array.shape[3:] if s != 1))
    if array.ndim != 3:
        raise InputError(f"{path}: expected a 3-D volume, got shape {array.shape}")
    spacing = spacing_from_affine(affine)
    if min(spacing) <= 0 or not np.all(np.isfinite(affine)):
        raise InputError(f"{path}: invalid geometry (affine {affine.tolist()})")
    return Volume(array, spacing, affine, path)


def _read_nifti(path: Path, dtype: np.dtype | type | None) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    try:
        img = nib.load(path)
        if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
            raise InputError(f"{path}: not a NIfTI image ({type(img).__name__})")
        header = img.header
        if dtype is None:
            array = np.asanyarray(img.dataobj)
        elif np.issubdtype(np.dtype(dtype), np.floating):
            array = img.get_fdata(dtype=dtype)
        else:
            array = np.asanyarray(img.dataobj).astype(dtype, copy=False)
    except InputError:
        raise
    except PermissionError:
        raise InputError(f"{path}: permission denied; cannot read it") from None
    except Exception as exc:  # nibabel raises many types for bad files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable NIfTI file ({msg})") from None
    affine = np.asarray(img.affine, dtype=float)
    _check_header(path, header, affine)
    return np.asarray(array), affine


def _check_header(path: Path, header: object, affine: np.ndarray) -> None:
    """Warn when pixdim disagrees with the affine or qform with sform."""
    spacing = np.array(spacing_from_affine(affine))
    zooms = np.array(header.get_zooms()[:3], dtype=float)  # type: ignore[attr-defined]
    if zooms.size == 3 and not np.allclose(zooms, spacing, rtol=1e-3, atol=1e-4):
        warnings.warn(
            f"{path}: pixdim {_mm(zooms)} differs from the affine's voxel size "
            f"{_mm(spacing)}; using the affine",
            UserWarning,
            stacklevel=4,
        )
    qcode = int(header["qform_code"])  # type: ignore[index]
    scode = int(header["sform_code"])  # type: ignore[index]
    if qcode > 0 and scode > 0:
        qform = header.get_qform()  # type: ignore[attr-defined]
        sform = header.get_sform()  # type: ignore[attr-defined]
        if not np.allclose(qform, sform, atol=1e-3):
            warnings.warn(
                f"{path}: qform and sform disagree; using the sform (as nibabel does)",
                UserWarning,
                stacklevel=4,
            )


def _mm(values: np.ndarray) -> str:
    """``(2, 2, 3)``: voxel sizes for messages (plain numbers, not numpy reprs)."""
    return "(" + ", ".join(f"{float(v):.6g}" for v in values) + ")"


def _read_itk(path: Path, dtype: np.dtype | type | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        import SimpleITK as sitk
    except ImportError:
        raise InputError(
            f"{path}: reading MHA/NRRD needs SimpleITK; pip install 'pet-agreement[itk]'"
        ) from None
    try:
        img = sitk.ReadImage(str(path))
    except Exception as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a readable image ({msg})") from None
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path}: expected a scalar image, got vector pixels")
    array = sitk.GetArrayFromImage(img)  # (z, y, x)
    array = np.ascontiguousarray(array.transpose(tuple(range(array.ndim))[::-1]))
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    dim = img.GetDimension()
    direction = np.array(img.GetDirection(), dtype=float).reshape(dim, dim)
    spacing = np.array(img.GetSpacing(), dtype=float)
    origin = np.array(img.GetOrigin(), dtype=float)
    affine = np.eye(4)
    k = min(dim, 3)
    affine[:k, :k] = (direction * spacing)[:k, :k]
    affine[:k, 3] = origin[:k]
    lps_to_ras = np.diag([-1.0, -1.0, 1.0, 1.0])
    return array, lps_to_ras @ affine


def _read_slicer_seg(path: Path, dtype: np.dtype | type | None) -> tuple[np.ndarray, np.ndarray]:
    from agreement.measures.segfiles import read_slicer_seg

    return read_slicer_seg(path, dtype)


def _read_dicom_seg(path: Path, dtype: np.dtype | type | None) -> tuple[np.ndarray, np.ndarray]:
    from agreement.measures.segfiles import read_dicom_seg

    return read_dicom_seg(path, dtype)


#: Suffix → reader ``(path, dtype) -> (array, RAS affine)``; longer suffixes before their tails.
READERS: dict[str, Reader] = {
    ".nii.gz": _read_nifti,
    ".nii": _read_nifti,
    ".mha": _read_itk,
    ".mhd": _read_itk,
    ".seg.nrrd": _read_slicer_seg,
    ".nrrd": _read_itk,
    ".nhdr": _read_itk,
    ".dcm": _read_dicom_seg,
}
SUFFIXES = tuple(READERS)
#: Formats that store a mask on its own (cropped, reordered) grid; put back by align_exact.
CROPPED_FORMATS = (".seg.nrrd", ".dcm")


def check_same_grid(
    reference: Volume,
    other: Volume,
    *,
    atol: float = 1e-3,
    hint: str = "pass --resample to resample it",
) -> None:
    """Raise :class:`InputError` unless ``other`` has ``reference``'s shape and affine.

    Parameters
    ----------
    reference, other : Volume
    atol : float
        Tolerance on every affine entry (mm).
    hint : str
        What the message tells the user to do.

    Examples
    --------
    >>> a = Volume(np.zeros((2, 2, 2)), (1.0, 1.0, 1.0), np.eye(4))
    >>> check_same_grid(a, a)
    >>> b = Volume(np.zeros((2, 2, 3)), (1.0, 1.0, 1.0), np.eye(4))
    >>> check_same_grid(a, b)
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: <array>: grid differs from <array>: shape (2, 2, 3) vs (2, 2, 2); pass --resample to resample it
    """
    if other.array.shape != reference.array.shape:
        problem = f"shape {other.array.shape} vs {reference.array.shape}"
    elif not np.allclose(other.affine, reference.affine, rtol=0, atol=atol):
        diff = float(np.max(np.abs(other.affine - reference.affine)))
        problem = f"affine differs by up to {diff:.4g} mm"
    else:
        return
    raise InputError(f"{other.name}: grid differs from {reference.name}: {problem}; {hint}")


def align_exact(moving: Volume, target: Volume, *, atol: float = 1e-3) -> Volume | None:
    """``moving`` re-indexed onto ``target``'s grid when its voxel centres are target voxel centres.

    That is: the same voxel size, axes possibly permuted or flipped, an offset of whole voxels
    (a mask cropped to its extent, as 3D Slicer and DICOM SEG store them, or another axis
    order). Target voxels outside ``moving`` become 0. No value is interpolated. Returns None
    when the grids do not line up that way, or when nonzero voxels of ``moving`` would fall
    outside ``target``.

    Examples
    --------
    >>> crop = np.eye(4); crop[:3, 3] = [1, 2, 0]
    >>> m = Volume(np.ones((2, 2, 1), np.uint8), (1.0,) * 3, crop)
    >>> t = Volume(np.zeros((4, 4, 2)), (1.0,) * 3, np.eye(4))
    >>> align_exact(m, t).array[:, :, 0].tolist()
    [[0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]]
    """
    index = np.linalg.inv(target.affine) @ moving.affine  # moving index -> target index
    rot, shift = index[:3, :3], index[:3, 3]
    signed = np.round(rot)
    if not np.allclose(rot, signed, atol=atol) or not np.allclose(
        shift, np.round(shift), atol=atol
    ):
        return None
    if not (np.abs(signed).sum(axis=0) == 1).all() or not (np.abs(signed).sum(axis=1) == 1).all():
        return None
    order = [int(np.flatnonzero(signed[a])[0]) for a in range(3)]  # target axis a <- moving axis
    array = np.transpose(moving.array, order)
    offsets = []
    for a in range(3):
        off = int(round(shift[a]))
        if signed[a, order[a]] < 0:
            array = np.flip(array, axis=a)
            off -= array.shape[a] - 1
        offsets.append(off)
    out = np.zeros(target.array.shape, dtype=array.dtype)
    src, dst = [], []
    for a in range(3):
        lo, hi = max(0, offsets[a]), min(out.shape[a], offsets[a] + array.shape[a])
        if hi <= lo:
            return None if array.any() else Volume(out, target.spacing, target.affine, moving.path)
        dst.append(slice(lo, hi))
        src.append(slice(lo - offsets[a], hi - offsets[a]))
    inside = array[tuple(src)]
    if np.count_nonzero(inside) != np.count_nonzero(array):
        return None
    out[tuple(dst)] = inside
    return Volume(out, target.spacing, target.affine, moving.path)


def resample_nearest(moving: Volume, target: Volume) -> Volume:
    """Nearest-neighbour resampling of ``moving`` onto ``target``'s grid (world coordinates).

    Voxels that fall outside ``moving`` become 0. Use it for masks only.

    Examples
    --------
    >>> m = Volume(np.arange(8, dtype=np.uint8).reshape(2, 2, 2), (2.0,) * 3, np.diag([2.0, 2, 2, 1]))
    >>> shifted = np.eye(4); shifted[:3, 3] = -0.5
    >>> t = Volume(np.zeros((4, 4, 4)), (1.0,) * 3, shifted)
    >>> resample_nearest(m, t).array[:, 0, 0].tolist()
    [0, 0, 4, 4]
    """
    from scipy import ndimage

    matrix = np.linalg.inv(moving.affine) @ target.affine
    out = ndimage.affine_transform(
        moving.array,
        matrix[:3, :3],
        offset=matrix[:3, 3],
        output_shape=target.array.shape,
        order=0,
        mode="grid-constant",
        cval=0,
    )
    return Volume(out, target.spacing, target.affine, moving.path)


def mask_array(volume: Volume, *, label: int | None = None) -> np.ndarray:
    """The boolean lesion mask of a mask volume; refuse values other than 0/1.

    Parameters
    ----------
    volume : Volume
    label : int, optional
        Select the voxels equal to this value (multi-label masks); every other value is 0.

    Examples
    --------
    >>> v = Volume(np.array([0, 1, 2, 1], np.uint8).reshape(1, 2, 2), (1.0,) * 3, np.eye(4))
    >>> mask_array(v, label=2).sum()
    np.int64(1)
    >>> mask_array(v)
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: <array>: label values {0, 1, 2}; pass --label N (or --reference-label/--pred-label N for one side) to select one
    """
    a = volume.array
    if label is not None:
        return a == label
    if a.dtype == np.bool_:
        return a
    if a.dtype == np.uint8:
        if a.max(initial=0) <= 1:
            return a.view(np.bool_)
    elif np.issubdtype(a.dtype, np.integer):
        if a.min(initial=0) >= 0 and a.max(initial=0) <= 1:
            return a != 0
    else:
        nonzero = a != 0
        if np.count_nonzero(nonzero) == np.count_nonzero(a == 1):
            return nonzero
    values = np.unique(a[a != 0])
    zero = [0] if np.count_nonzero(a) < a.size else []
    shown = ", ".join(f"{v:g}" for v in [*zero, *values[:8].tolist()])
    more = ", ..." if values.size > 8 else ""
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise InputError(
            f"{volume.name}: not a label map: fractional values {{{shown}{more}}} (probabilities?); "
            "binarise it first, e.g. save (mask >= 0.5) as integers 0/1"
        )
    raise InputError(
        f"{volume.name}: label values {{{shown}{more}}}; pass --label N (or --reference-label/"
        "--pred-label N for one side) to select one"
    )


def pet_array(volume: Volume) -> np.ndarray:
    """The PET array as float32; refuse NaN or infinite values.

    Examples
    --------
    >>> v = Volume(np.array([1.0, np.nan]).reshape(1, 1, 2), (1.0,) * 3, np.eye(4))
    >>> pet_array(v)
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: <array>: PET contains 1 NaN or infinite voxels
    """
    a = volume.array
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    if not np.isfinite(a).all():
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise InputError(f"{volume.name}: PET contains {bad} NaN or infinite voxels")
    return a
