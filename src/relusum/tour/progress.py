"""The tour's progress bar: one tqdm bar on stderr for every step of the tour."""

from __future__ import annotations

import sys

__all__ = ["Progress"]


class Progress:
    """A tqdm bar on stderr: shown after 2 s (``None``), always (``True``) or never (``False``).

    Examples
    --------
    >>> from relusum.tour.progress import Progress
    >>> bar = Progress(3, False)
    >>> bar.step("one"); bar.close()
    """

    def __init__(self, total: int, progress: bool | None) -> None:
        self.bar = None
        if progress is False:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total,
            desc="relusum tour",
            unit="step",
            file=sys.stderr,
            delay=0.0 if progress else 2.0,
            leave=bool(progress),
            dynamic_ncols=True,
        )

    def step(self, what: str, k: int = 1) -> None:
        """Advance by ``k`` steps, naming the step just done."""
        if self.bar is not None:
            self.bar.set_postfix_str(what, refresh=False)
            self.bar.update(k)

    def close(self) -> None:
        """Remove the bar (kept on screen when it was asked for)."""
        if self.bar is not None:
            self.bar.close()
