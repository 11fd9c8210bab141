"""DICOM PET/CT in: SUV NIfTI, CT on the PET grid and lesion masks in nnU-Net's raw layout.

Needs the ``dicom`` extra (``pip install 'pet-agreement[dicom]'``: pydicom and highdicom); both
are imported inside the functions that use them, so importing this package costs nothing.
``convert_dicom`` is what ``agree convert`` runs; ``suv_factor`` is the QIBA body-weight SUV
factor of one PET series (docs/dicom.md).
"""

from __future__ import annotations

from agreement.dicom.convert import ConversionResult, convert_dicom
from agreement.dicom.suv import SUVFactor, suv_factor

__all__ = ["ConversionResult", "SUVFactor", "convert_dicom", "suv_factor"]
