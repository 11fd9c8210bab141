"""Write files and folders completely or not at all (temporary path, then rename).

Temporaries sit beside the target as ``.NAME.HOST.PID.RANDOM.tmp``: a later run on the same
machine removes those whose process is gone (``kill -9``, a lost SLURM node) and says so on
stderr. An output folder carries a marker file (:data:`MARKER`) so that ``--overwrite``
replaces only an earlier output of this toolkit, never an arbitrary folder, and the final
rename refuses a destination that appeared while the run was writing (another run).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from agreement.errors import InputError

MARKER = ".pet-agreement-output"
"""File written into every output folder; ``--overwrite`` replaces only folders holding it."""

_TABLES = {f"{n}.{e}" for n in ("measurements", "cases", "lesions", "missing", "failed") for e in ("csv", "parquet")}  # fmt: skip


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def _prefix(path: Path) -> str:
    """Start of the temporaries' names of ``path`` made by this process."""
    return f".{path.name}.{_host()}.{os.getpid()}."


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process there; never guess
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale(path: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries of ``path`` left by dead processes of this machine; say so on stderr.

    Returns the removed paths. Temporaries of live processes, of other machines (a shared
    file system) and of unknown origin are kept.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> remove_stale(folder / "report")
    []
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{re.escape(_host())}\.(\d+)\..*\.tmp")
    removed = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m is None or _alive(int(m[1])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
        print(f"note: removed {entry}, left by a run that stopped (pid {m[1]})", file=sys.stderr)
    return removed


def _libc_rename() -> tuple[object, str] | None:
    """``renameat2`` (Linux) or ``renamex_np`` (macOS) from the C library, when there is one."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    for name in ("renameat2", "renamex_np"):
        func = getattr(libc, name, None)
        if func is not None:
            return func, name
    return None


_RENAME = _libc_rename()
_NOREPLACE = {"renameat2": 1, "renamex_np": 4}  # RENAME_NOREPLACE, RENAME_EXCL
_EXCHANGE = {"renameat2": 2, "renamex_np": 2}  # RENAME_EXCHANGE, RENAME_SWAP


def _flag_rename(src: Path, dst: Path, flags: dict[str, int]) -> bool:
    """Rename with the C library's flag; False when the call or the file system lacks it."""
    if _RENAME is None:
        return False
    func, name = _RENAME
    a, b = os.fsencode(src), os.fsencode(dst)
    at_fdcwd = -100
    rc = func(at_fdcwd, a, at_fdcwd, b, flags[name]) if name == "renameat2" else func(a, b, flags[name])  # type: ignore[operator]  # fmt: skip
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def rename_noreplace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename ``src`` to ``dst``; :class:`FileExistsError` when ``dst`` exists, even empty.

    ``os.rename`` silently replaces an empty folder (and any file on POSIX); this does not.
    Uses ``renameat2(RENAME_NOREPLACE)`` or ``renamex_np(RENAME_EXCL)``, else reserves
    ``dst`` with ``mkdir`` (which fails when it exists) before renaming onto it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "a").mkdir(); (root / "b").mkdir()
    >>> rename_noreplace(root / "a", root / "b")
    Traceback (most recent call last):
    ...
    FileExistsError: [Errno 17] File exists: ...
    """
    src, dst = Path(src), Path(dst)
    if _flag_rename(src, dst, _NOREPLACE):
        return
    if src.is_dir():
        os.mkdir(dst)  # the reservation: fails when dst exists
        try:
            os.replace(src, dst)  # POSIX: a folder onto our own empty folder
        except OSError:
            os.rmdir(dst)
            os.rename(src, dst)  # Windows refuses an existing dst itself
    else:
        os.link(src, dst)  # fails when dst exists
        os.unlink(src)


def is_output(path: str | os.PathLike[str]) -> bool:
    """True for a folder this toolkit wrote (marker file or an older output's files) or empty.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> is_output(folder)
    True
    >>> _ = (folder / "thesis.tex").write_text("...")
    >>> is_output(folder)
    False
    """
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        return False
    names = {p.name for p in path.iterdir()}
    return (
        not names
        or MARKER in names
        or "provenance.json" in names  # a report of an earlier version
        or {"phantoms.csv", "dataset.json"} <= names  # segengine phantoms
        or "predict.json" in names  # segengine predict (written in place to be resumable)
        or ("measurements.csv" in names or "measurements.parquet" in names)
        and names <= _TABLES
    )


def _overlap(output: Path, inputs: Iterable[str | os.PathLike[str] | None]) -> str | None:
    out = output.resolve()
    for item in inputs:
        if item is None:
            continue
        given = Path(item)
        inp = given.resolve()
        if inp.is_dir() or not inp.exists():
            if out == inp or inp.is_relative_to(out) or out.is_relative_to(inp):
                return f"{output}: -o overlaps the input folder {given}; choose a folder outside the inputs"  # fmt: skip
        elif inp.is_relative_to(out):
            return f"{output}: -o holds the input file {given}; choose a folder outside the inputs"  # fmt: skip
    return None


def check_output_dir(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> None:
    """Refuse an output folder before any work: a file, an input, or an existing folder.

    :class:`~agreement.errors.InputError` (one line) when ``path`` is a file, is, holds or lies
    inside one of ``inputs``, exists without ``overwrite``, or exists but is not an earlier
    output of this toolkit (see :func:`is_output`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> check_output_dir(root / "pred" / "out", inputs=[root / "pred"])
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: .../pred/out: -o overlaps the input folder .../pred; ...
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file, not a folder; -o needs a folder name")
    problem = _overlap(path, inputs)
    if problem:
        raise InputError(problem)
    if path.exists() and not overwrite:
        raise InputError(f"{path}: output folder exists; pass --overwrite to replace it")
    if path.exists() and not is_output(path):
        raise InputError(
            f"{path}: not an output of this toolkit (no {MARKER} file); --overwrite replaces "
            "only those: remove it yourself or choose another folder"
        )


def _writable_parent(path: Path) -> None:
    """Create ``path``'s parent; a one-line InputError when that or writing there is denied."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except PermissionError as exc:
        raise InputError(f"{exc.filename or path.parent}: permission denied; cannot create the folder for {path}") from None  # fmt: skip
    except FileExistsError:
        raise InputError(f"{path.parent}: is a file, not a folder; cannot write {path} there") from None  # fmt: skip
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise InputError(f"{path.parent}: permission denied; cannot write {path} there")


def _mkdtemp(path: Path) -> Path:
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent))
    except PermissionError:
        raise InputError(f"{path.parent}: permission denied; cannot write {path} there") from None  # fmt: skip
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; give the folder the usual permissions
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched. With
    ``overwrite=False`` the rename refuses a ``path`` that exists by then
    (:class:`~agreement.errors.InputError`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    path = Path(path)
    _writable_parent(path)
    remove_stale(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent)
    except PermissionError:
        raise InputError(f"{path.parent}: permission denied; cannot write {path} there") from None  # fmt: skip
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes 0600
    try:
        yield tmp_path
        if overwrite:
            os.replace(tmp_path, path)
        else:
            try:
                rename_noreplace(tmp_path, path)
            except FileExistsError:
                raise InputError(
                    f"{path}: appeared while this run was writing (another run?); left as it is"
                ) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; move it to ``path`` on success.

    Checks ``path`` first (:func:`check_output_dir`: not a file, not an input, absent unless
    ``overwrite``, and then an earlier output of this toolkit). The old folder is replaced
    only once the new one is complete, and the new one carries :data:`MARKER`. When ``path``
    appears while the body runs (another run into the same folder), the move is refused:
    :class:`~agreement.errors.InputError`, and the other run's folder stays as it is. On an
    exception nothing is left.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> with atomic_dir(out) as tmp:
    ...     _ = (tmp / "index.html").write_text("<html></html>")
    >>> sorted(p.name for p in out.iterdir())
    ['.pet-agreement-output', 'index.html']
    """
    path = Path(path)
    inputs = list(inputs)
    check_output_dir(path, overwrite=overwrite, inputs=inputs)
    _writable_parent(path)
    remove_stale(path)
    tmp = _mkdtemp(path)
    try:
        yield tmp
        (tmp / MARKER).write_text(json.dumps({"tool": "pet-agreement"}) + "\n")
        _move_into_place(tmp, path, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, path: Path, overwrite: bool) -> None:
    appeared = InputError(
        f"{path}: appeared while this run was writing (another run?); left as it is, "
        "this run's output discarded"
    )
    if not (overwrite and path.exists()):
        try:
            rename_noreplace(tmp, path)
        except FileExistsError:
            raise appeared from None
        return
    if not is_output(path):  # replaced by something else since the check
        raise appeared
    if _flag_rename(tmp, path, _EXCHANGE):  # tmp now holds the old folder
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = Path(f"{tmp}.old.tmp")
    os.replace(path, old)
    try:
        rename_noreplace(tmp, path)
    except FileExistsError:
        raise appeared from None
    shutil.rmtree(old, ignore_errors=True)
