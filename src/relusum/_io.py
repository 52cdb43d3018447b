"""Atomic file writing: a file is either written whole or not touched at all.

:func:`atomic_path` does it for one file; :class:`OutputPlan` for all the
outputs of one command: every destination is checked (and its temporary file
created) before any work, each writer fills its temporary file, and only when
all have succeeded are they renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["atomic_write_text", "atomic_write_bytes", "atomic_path", "OutputPlan"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    If the body raises, the temporary file is removed and ``path`` is untouched.
    The temporary name keeps the suffix of ``path`` so writers that choose a
    format by extension (matplotlib, torch) still do the right thing.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"cannot write {str(target)!r}: folder {str(parent)!r} does not exist")
    tmp_path: Path | None = None
    try:
        tmp_path = _make_temp(target, parent)
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        if tmp_path is not None:
            with contextlib.suppress(OSError):
                tmp_path.unlink()
        raise


def _make_temp(target: Path, parent: Path) -> Path:
    """A new empty file beside ``target`` with its suffix and the mode open() would give."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=parent)
    tmp_path = Path(tmp)
    try:
        os.close(fd)
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp_path, _default_mode(target))
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    return tmp_path


def _default_mode(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777  # keep the mode of a file we replace
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


class OutputPlan:
    """All the files one command writes, written all-or-nothing.

    :meth:`add` checks a destination before any work (suffix, folder, not a
    folder itself, ``no_clobber``) and creates its temporary file there, so an
    unwritable destination is reported -- by its real name -- before anything
    is computed.  Writers fill the temporary paths; :meth:`commit` renames them
    all into place.  Leaving the ``with`` block without :meth:`commit` (an
    error, Ctrl-C, SIGTERM turned into an exception) removes every temporary
    file and leaves existing files untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> from relusum._io import OutputPlan
    >>> d = tempfile.mkdtemp()
    >>> with OutputPlan() as plan:
    ...     tmp = plan.add(os.path.join(d, "a.txt"), (".txt",), "--out")
    ...     _ = tmp.write_text("hi")
    ...     plan.commit()
    []
    >>> open(os.path.join(d, "a.txt")).read()
    'hi'
    """

    def __init__(self, no_clobber: bool = False) -> None:
        self.no_clobber = no_clobber
        self._items: list[tuple[Path, Path]] = []

    def add(self, path: str | os.PathLike[str], suffixes: tuple[str, ...], what: str) -> Path:
        """Check ``path`` and reserve its temporary file; return the temporary path."""
        target = Path(path)
        if suffixes and target.suffix.lower() not in suffixes:
            raise ValueError(f"{what} file {str(target)!r} must end in {', '.join(suffixes)}")
        parent = target.parent if str(target.parent) else Path(".")
        if not parent.is_dir():
            raise ValueError(f"cannot write {str(target)!r}: folder {str(parent)!r} does not exist")
        if target.is_dir():
            raise ValueError(f"cannot write {str(target)!r}: it is a folder")
        if any(os.path.abspath(t) == os.path.abspath(target) for t, _ in self._items):
            raise ValueError(f"{str(target)!r} is named twice as an output")
        if self.no_clobber and os.path.lexists(target):
            raise ValueError(f"{str(target)!r} exists and --no-clobber was given; nothing written")
        try:
            tmp = _make_temp(target, parent)
        except OSError as exc:
            raise ValueError(
                f"cannot write {str(target)!r}: folder {str(parent)!r} does not accept new "
                f"files ({exc.strerror or type(exc).__name__})"
            ) from None
        self._items.append((target, tmp))
        return tmp

    def commit(self) -> list[Path]:
        """Move every temporary file into place; return the destinations that existed before."""
        overwritten = []
        for target, _tmp in self._items:
            if self.no_clobber and os.path.lexists(target):
                raise ValueError(
                    f"{str(target)!r} appeared while working; --no-clobber: not written"
                )
            if os.path.lexists(target):
                overwritten.append(target)
        # Signals wait until every file is in place: a command is never half-committed.
        mask = getattr(signal, "pthread_sigmask", None)  # POSIX only
        blocked = mask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}) if mask else None
        try:
            for target, tmp in self._items:
                os.replace(tmp, target)
            self._items = []
        finally:
            if mask is not None and blocked is not None:
                mask(signal.SIG_SETMASK, blocked)
        return overwritten

    def abort(self) -> None:
        """Remove every temporary file not yet moved into place."""
        for _, tmp in self._items:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._items = []

    def __enter__(self) -> OutputPlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()
