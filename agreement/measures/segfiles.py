"""Segmentation files of other tools: 3D Slicer ``.seg.nrrd``, DICOM SEG and RTSTRUCT (``.dcm``).

Both readers return ``(array, affine)`` like the other readers of
:data:`agreement.measures.io.READERS`: the array in its file's voxel order, the affine mapping
voxel indices to RAS millimetres. Segment values are kept as stored (segment label values for
Slicer, segment numbers for DICOM SEG), so a file with one segment is a 0/1 mask and a file
with several needs ``--label N``.

An RTSTRUCT holds contours, not voxels: :func:`load_mask` rasterises the ROIs matching a name
pattern onto the grid of the PET (reference) or of the reference mask (prediction), with the
rasteriser of ``agree convert`` (:func:`agreement.dicom.rtstruct.rasterise`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agreement.errors import InputError
from agreement.measures.io import Volume, _read_itk, image_suffix, load_volume
from agreement.measures.options import DEFAULT

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_DICOM_HINT = "pip install 'pet-agreement[dicom]'"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def dicom_modality(path: Path) -> str:
    """The Modality (0008,0060) of a DICOM file, read from its header only."""
    try:
        import pydicom
    except ImportError:
        raise InputError(f"{path}: reading DICOM needs pydicom; {_DICOM_HINT}") from None
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
    except Exception as exc:
        raise InputError(f"{path}: not a readable DICOM file ({_first_line(exc)})") from None
    return str(getattr(header, "Modality", "") or "unknown")


def load_mask(path: Path, grid: Volume, *, roi: str = DEFAULT.roi) -> Volume:
    """A mask file as a :class:`Volume`; an RTSTRUCT is rasterised onto ``grid``.

    Parameters
    ----------
    path : Path
        Any mask file of :data:`agreement.measures.io.READERS`, or a DICOM RTSTRUCT ``.dcm``.
    grid : Volume
        Where an RTSTRUCT's contours are filled (the PET for a reference mask).
    roi : str
        Shell pattern of the RTSTRUCT ROI names that make the lesion mask (case-insensitive),
        ``lesion*`` by default as in the papers' code.

    Examples
    --------
    >>> import tempfile, pathlib, nibabel as nib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.nii.gz"
    >>> nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4)), p)
    >>> load_mask(p, Volume(np.zeros((2, 2, 2)), (1.0,) * 3, np.eye(4))).array.sum()
    np.uint64(8)
    """
    if image_suffix(path) != ".dcm" or dicom_modality(path) != "RTSTRUCT":
        return load_volume(path)
    import pydicom

    from agreement.dicom.rtstruct import rasterise

    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        raise InputError(f"{path}: not a readable DICOM file ({_first_line(exc)})") from None
    affine_lps = LPS_TO_RAS @ grid.affine  # the flip is its own inverse
    mask, matched, names = rasterise(ds, path, grid.array.shape, affine_lps, roi)
    if not matched:
        shown = ", ".join(repr(n) for n in names) or "none"
        raise InputError(f"{path}: no ROI name matches {roi!r} (ROIs: {shown}); pass --roi PATTERN")
    return Volume(np.asarray(mask), grid.spacing, grid.affine, path)


def read_slicer_seg(path: Path, dtype: np.dtype | type | None) -> tuple[np.ndarray, np.ndarray]:
    """Read a 3D Slicer segmentation (``.seg.nrrd``) with SimpleITK.

    A single-layer file is a label map (each segment's ``LabelValue``). A layered file, which
    Slicer writes when segments overlap, is refused: which layer is the lesion is not ours to
    guess.

    Examples
    --------
    >>> import tempfile, pathlib, SimpleITK as sitk
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "case.seg.nrrd"
    >>> img = sitk.GetImageFromArray(np.ones((2, 3, 4), np.uint8))
    >>> img.SetMetaData("Segment0_Name", "lesion"); img.SetMetaData("Segment0_LabelValue", "1")
    >>> sitk.WriteImage(img, str(p))
    >>> array, affine = read_slicer_seg(p, None)
    >>> array.shape
    (4, 3, 2)
    """
    try:
        import SimpleITK as sitk
    except ImportError:
        raise InputError(
            f"{path}: reading .seg.nrrd needs SimpleITK; pip install 'pet-agreement[itk]'"
        ) from None
    try:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        layers = reader.GetNumberOfComponents()
    except Exception as exc:
        raise InputError(f"{path}: not a readable image ({_first_line(exc)})") from None
    if layers > 1:
        raise InputError(
            f"{path}: a layered Slicer segmentation ({layers} layers of overlapping segments); "
            "export the lesion segment as a label map (Segmentations > Export to files)"
        )
    return _read_itk(path, dtype)


def read_dicom_seg(path: Path, dtype: np.dtype | type | None) -> tuple[np.ndarray, np.ndarray]:
    """Read a DICOM Segmentation object with highdicom as one label map.

    The reader of ``agree convert`` (:func:`agreement.dicom.seg.seg_volume`): segments are
    combined (voxel value = segment number; overlapping segments are refused by highdicom),
    the array indexed ``[column, row, slice]`` like the other readers. The volume covers the frames stored in the file, which may be fewer than the
    source series; :func:`agreement.measures.io.align_exact` puts it back on the PET grid.

    Raises
    ------
    InputError
        highdicom missing, a DICOM file that is not a SEG, or a SEG whose frames do not form a
        regular volume.
    """
    try:
        import highdicom  # noqa: F401
    except ImportError:
        raise InputError(
            f"{path}: reading DICOM SEG needs pydicom and highdicom; {_DICOM_HINT}"
        ) from None
    from agreement.dicom.seg import open_seg, seg_volume

    modality = dicom_modality(path)
    if modality != "SEG":
        raise InputError(
            f"{path}: a DICOM {modality} file, not a DICOM SEG (convert DICOM images to NIfTI "
            "with agree convert)"
        )
    array, affine_lps = seg_volume(open_seg(path)[0], path)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    return array, LPS_TO_RAS @ affine_lps
