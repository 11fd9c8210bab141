"""The dicom extra is optional: importing agreement.dicom loads neither pydicom nor highdicom,
and a missing pydicom is one line naming the extra."""

from __future__ import annotations

import subprocess
import sys


def test_import_is_lazy_and_missing_extra_is_one_line(tmp_path):
    code = f"""
import sys
import agreement.dicom, agreement.cli
assert not any(m.split('.')[0] in {{'pydicom', 'highdicom'}} for m in sys.modules), 'eager import'
sys.modules['pydicom'] = None  # as if the extra were not installed
from agreement.errors import InputError
try:
    agreement.dicom.convert_dicom({str(tmp_path)!r}, {str(tmp_path / "out")!r})
except InputError as exc:
    print(exc)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "reading DICOM needs pydicom, the [dicom] extra: pip install 'pet-agreement[dicom]'"
    )
