"""Progress bars (tqdm on stderr) for fits that may take more than a couple of seconds."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar"]


class _Bar:
    """A tqdm bar on stderr, shown at once (``progress=True``) or after 2 s on a terminal."""

    def __init__(self, progress: bool | None, desc: str, unit: str) -> None:
        self._bar = None
        if progress is False:
            return
        if progress is None and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            desc=desc,
            unit=unit,
            file=sys.stderr,
            leave=False,
            delay=0.0 if progress else 2.0,
        )

    def __call__(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(progress: bool | None, desc: str, unit: str = "step") -> _Bar:
    """A callable that advances a progress bar (a no-op when no bar is shown).

    ``progress=True`` shows it at once, ``None`` only on a terminal and only
    once the work has run for 2 s, ``False`` never.

    Examples
    --------
    >>> from relusum.fitting.progress import progress_bar
    >>> with progress_bar(False, "fit") as tick:
    ...     tick()
    """
    return _Bar(progress, desc, unit)
