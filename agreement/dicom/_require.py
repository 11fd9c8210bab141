"""Import the optional DICOM libraries with a one-line error naming the extra."""

from __future__ import annotations

from types import ModuleType

from agreement.errors import InputError

_HINT = "pip install 'pet-agreement[dicom]'"


def pydicom() -> ModuleType:
    """Return the ``pydicom`` module, or raise :class:`InputError` naming the extra."""
    try:
        import pydicom as module
    except ImportError:
        raise InputError(f"reading DICOM needs pydicom, the [dicom] extra: {_HINT}") from None
    return module


def highdicom() -> ModuleType:
    """Return the ``highdicom`` module, or raise :class:`InputError` naming the extra."""
    try:
        import highdicom as module
    except ImportError:
        raise InputError(f"reading DICOM SEG needs highdicom, the [dicom] extra: {_HINT}") from None
    return module
