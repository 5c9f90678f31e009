"""Live view of a run's steps (fetch, bronze, silver) on stderr.

Rule: progress is for people and goes to stderr only. On a terminal it is a rich live
table (state, duration, detail); otherwise one plain line per state change, so CI logs
stay readable. Time is injected so tests see fixed durations.

Cost: the live table is rebuilt only when rich redraws it (a few times a second, on its
own thread) or when a step changes state; progress callbacks (a download's chunks) only
record numbers. So the running step's time ticks, and the view costs the run nothing it
could measure (bench/RESULTS.md, live view).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

StepState = Literal[
    "pending", "running", "succeeded", "failed", "skipped", "unchanged", "interrupted", "not run"
]
STEPS: tuple[str, ...] = ("fetch", "bronze", "silver")
_STYLE = {
    "pending": "dim",
    "running": "yellow",
    "succeeded": "green",
    "unchanged": "green",
    "skipped": "dim",
    "failed": "red",
    "interrupted": "red",
    "not run": "dim",
}
#: States in which a step has ended (its duration stops).
_ENDED = ("succeeded", "failed", "unchanged", "interrupted")


@dataclass
class StepView:
    name: str
    state: StepState = "pending"
    started: float | None = None
    finished: float | None = None
    detail: str = ""
    #: Bytes moved so far and the total (when known), while a transfer runs.
    transferred: tuple[int, int | None] | None = None
    #: What those bytes are ("downloaded", "extracted"): one meaning per bar.
    phase: str = ""

    def duration(self, now: float) -> float | None:
        if self.started is None:
            return None
        return (self.finished if self.finished is not None else now) - self.started


class _Current:
    """What `Live` draws: the table as of the moment of drawing, not of the last change."""

    def __init__(self, progress: RunProgress) -> None:
        self._progress = progress

    def __rich__(self) -> Table:
        return self._progress.render()


#: Redraws per second of the live view: enough for a time shown in tenths to look alive.
REFRESH_PER_SECOND = 4


def format_bytes(count: int) -> str:
    return f"{count / 1_000_000:,.1f} MB"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


class RunProgress:
    """Steps of one run; use as a context manager around the run."""

    def __init__(
        self,
        title: str,
        steps: Sequence[str] = STEPS,
        *,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
        live: bool | None = None,
    ) -> None:
        self.title = title
        self.steps = {name: StepView(name) for name in steps}
        self.console = console or Console(stderr=True, highlight=False)
        self._clock = clock
        self._live_enabled = self.console.is_terminal if live is None else live
        self._live: Live | None = None
        self.footer = ""

    def __enter__(self) -> RunProgress:
        if self._live_enabled:
            self._live = Live(
                _Current(self), console=self.console, refresh_per_second=REFRESH_PER_SECOND
            )
            self._live.__enter__()
        else:
            self.console.print(self.title)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.stop_rest()
        if self._live is not None:
            self._live.refresh()
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def set(
        self,
        step: str,
        state: StepState,
        detail: str = "",
        *,
        started: float | None = None,
        finished: float | None = None,
    ) -> None:
        """Move a step to `state`; times default to now when the state implies them."""
        view = self.steps.setdefault(step, StepView(step))
        changed = view.state != state or (detail and detail != view.detail)
        now = self._clock()
        if state == "running" and view.started is None:
            view.started = started if started is not None else now
        if state in _ENDED:
            if view.started is None:
                view.started = started if started is not None else now
            view.finished = finished if finished is not None else now
        view.state = state
        if detail:
            view.detail = detail
        if not changed:
            return
        if self._live is not None:
            self._live.refresh()
        else:
            took = format_duration(view.duration(now)) if view.finished is not None else ""
            parts = [f"{step}: {state}", took, view.detail if state != "running" else ""]
            # details are data (file names, errors, "[spark engine]"), never markup
            self.console.print("  ".join(p for p in parts if p), markup=False)

    def start(self, step: str, detail: str = "") -> None:
        self.set(step, "running", detail)

    def done(self, step: str, detail: str = "") -> None:
        self.set(step, "succeeded", detail)

    def fail(self, step: str, detail: str = "") -> None:
        self.set(step, "failed", detail)

    def stopped(self, step: str, exc: BaseException) -> None:
        """`step` ended by `exc`: interrupted by Ctrl-C, else failed; later steps not run."""
        if isinstance(exc, KeyboardInterrupt):
            self.set(step, "interrupted", "stopped by Ctrl-C")
        else:
            self.set(step, "failed", str(exc))
        self.stop_rest()

    def stop_rest(self) -> None:
        """The run ended early: steps still pending will not run."""
        for name, view in self.steps.items():
            if view.state == "pending":
                self.set(name, "not run")

    def now(self) -> float:
        return self._clock()

    def note(self, message: str) -> None:
        """A line under the table (where the logs are, how to follow)."""
        self.footer = message
        if self._live is not None:
            self._live.refresh()
        else:
            self.console.print(message)

    def refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def transfer(self, step: str, phase: str = "") -> Callable[[int, int | None], None]:
        """A byte-progress callback (downloads, uploads) drawn as a bar in `step`'s row,
        labelled `phase` (what the bytes are): a new phase starts its own bar rather than
        reusing the last one's.

        It only records the numbers: the next redraw shows them (a redraw per chunk would
        cost the download more than the bytes do)."""

        def update(done: int, total: int | None) -> None:
            view = self.steps.setdefault(step, StepView(step))
            view.transferred, view.phase = (done, total), phase

        return update

    def _detail(self, view: StepView) -> RenderableType:
        if view.state != "running" or view.transferred is None:
            return Text(view.detail)  # data, never markup
        done, total = view.transferred
        phase = f"{view.phase} " if view.phase else ""
        if not total:
            return Text(f"{phase}{format_bytes(done)} {view.detail}".strip())
        line = Table.grid(padding=(0, 1))
        line.add_row(
            ProgressBar(total=total, completed=done, width=20),
            Text(f"{phase}{format_bytes(done)} of {format_bytes(total)}", no_wrap=True),
        )
        return line

    def render(self) -> Table:
        now = self._clock()
        table = Table(title=self.title, title_justify="left", caption=self.footer or None)
        table.add_column("step")
        table.add_column("state")
        table.add_column("time", justify="right")
        table.add_column("detail")
        for view in self.steps.values():
            style = _STYLE[view.state]
            table.add_row(
                view.name,
                f"[{style}]{view.state}[/]",
                format_duration(view.duration(now)),
                self._detail(view),
            )
        return table


class QuietProgress(RunProgress):
    """Records states without printing (for `--json` callers and tests)."""

    def __init__(self, steps: Sequence[str] = STEPS) -> None:
        super().__init__("", steps, console=Console(quiet=True), live=False)

    def __enter__(self) -> RunProgress:
        return self
