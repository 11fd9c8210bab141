"""The ``segengine`` command line: a thin click group; each command lives in its own module.

Exit codes: 0 success, 2 user error (one line naming the file and the problem), 1 bug.
"""

from __future__ import annotations

import sys

import click

from agreement.cli import AgreeGroup


@click.group(cls=AgreeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pet-agreement", prog_name="segengine")
def segengine() -> None:
    """Train, predict and ensemble PET/CT lesion-segmentation networks (MONAI/PyTorch).

    \b
    Typical use:
      segengine phantoms -o phantoms --cases 40 --test-cases 10 --seed 0
      segengine train phantoms --network segresnet --loss l1dfl --fold 0 -o runs
      segengine predict runs/segresnet-l1dfl-fold* --images phantoms/imagesTs -o pred --ensemble majority
      agree report pred --reference phantoms/labelsTs --pet phantoms/imagesTs -o report
    """


def _register() -> None:
    import importlib

    for module, name in [
        ("segengine.cli_phantoms", "phantoms"),
        ("segengine.cli_train", "train"),
        ("segengine.cli_predict", "predict"),
    ]:
        segengine.add_command(getattr(importlib.import_module(module), name))


_register()


def main() -> None:
    """Console-script entry point for ``segengine``."""
    segengine.main(prog_name="segengine")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
