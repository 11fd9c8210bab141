"""The ``agree`` command line: a thin click group; each command lives in its own module.

Exit codes: 0 success, 2 user error (one line naming the file and the problem), 1 bug.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click

from agreement.errors import InputError


class UserError(click.ClickException):
    """A user error: one-line message, exit code 2."""

    exit_code = 2


def _one_line_warning(
    message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any
) -> None:
    """Show a warning as one ``warning: ...`` line (no file name, line number or source)."""
    text = " ".join(str(message).split())
    prefix = "" if issubclass(category, UserWarning) else f"{category.__name__}: "
    click.echo(f"warning: {prefix}{text}", err=True)


class AgreeGroup(click.Group):
    """A click group whose user errors are one line on stderr and exit code 2.

    :class:`InputError` raised anywhere below a command becomes a :class:`UserError`, so does
    a :class:`PermissionError` (an unreadable input, a read-only output folder: one line
    naming the path), and click's own usage errors (a bad option value, a missing argument) are printed as one
    ``Error: ...`` line instead of the usage block.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _one_line_warning
                return super().invoke(ctx)
        except InputError as exc:
            raise UserError(str(exc).splitlines()[0] if str(exc) else repr(exc)) from None
        except PermissionError as exc:
            raise UserError(permission_message(exc)) from None

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else self.name
            message = " ".join(exc.format_message().split())
            click.echo(f"Error: {message} (see '{command} --help')", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def permission_message(exc: PermissionError) -> str:
    """``PATH: permission denied (...)``: one line naming the path that could not be used.

    Examples
    --------
    >>> permission_message(PermissionError(13, "Permission denied", "out/report"))
    'out/report: permission denied (check its owner and mode, and those of its folders)'
    """
    path = exc.filename if exc.filename is not None else "a file or folder"
    return f"{path}: permission denied (check its owner and mode, and those of its folders)"


@click.group(cls=AgreeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pet-agreement", prog_name="agree")
def agree() -> None:
    """Agreement of clinical PET measures from predicted lesion masks with the reference.

    \b
    Typical use:
      agree demo -o demo-report                 # the whole product on bundled data
      agree report PRED --reference REF --pet PET -o report
      agree measure PRED --reference REF --pet PET -o tables
      agree stats tables/measurements.csv -o agreement.csv
      agree figures tables/measurements.csv -o figs
      agree convert dicom/ -o Dataset001_PSMA   # DICOM PET/CT in (extra dicom)
    """


def _register() -> None:
    """Attach the commands; each module keeps its heavy imports inside the command body."""
    import importlib

    for module, name in [
        ("agreement.cli.stats", "stats"),
        ("agreement.cli.measure", "measure"),
        ("agreement.cli.measure", "merge"),
        ("figures.cli", "figures"),
        ("agreement.cli.report", "report"),
        ("agreement.cli.report", "demo"),
        ("agreement.cli.convert", "convert"),
    ]:
        agree.add_command(getattr(importlib.import_module(module), name))


_register()


def main() -> None:
    """Console-script entry point for ``agree``."""
    agree.main(prog_name="agree")

