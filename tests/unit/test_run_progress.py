"""Run progress: plain lines when stderr is not a terminal, with durations."""

from __future__ import annotations

import io

from rich.console import Console

from ppdw.runs.progress import RunProgress, format_duration


def test_plain_lines_with_durations() -> None:
    buffer = io.StringIO()
    now = [0.0]
    console = Console(file=buffer, width=120, force_terminal=False)
    with RunProgress("run r1 of nsde", console=console, clock=lambda: now[0]) as progress:
        progress.start("fetch")
        now[0] = 1.5
        progress.done("fetch")
        progress.start("bronze")
        now[0] = 75.0
        progress.fail("bronze", "empty_source: no data rows")
    assert buffer.getvalue().splitlines() == [
        "run r1 of nsde",
        "fetch: running",
        "fetch: succeeded  1.5s",
        "bronze: running",
        "bronze: failed  1m13s  empty_source: no data rows",
    ]
    assert progress.steps["silver"].state == "pending"


def test_format_duration() -> None:
    assert format_duration(None) == ""
    assert format_duration(0.25) == "0.2s"
    assert format_duration(3600) == "60m00s"


def test_a_download_shows_as_a_bar_with_bytes_in_its_step_row() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    progress = RunProgress("run r1", console=console, live=False)
    progress.start("fetch")
    progress.transfer("fetch")(5_000_000, 10_000_000)
    console.print(progress.render())
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "5.0 MB of 10.0 MB" in shown
    assert "━" in shown  # the bar itself
    progress.done("fetch")
    console.file.truncate(0)  # type: ignore[attr-defined]
    console.print(progress.render())
    assert "MB of" not in console.file.getvalue()  # type: ignore[attr-defined]


def _shown(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_live_view_ticks_while_a_step_runs() -> None:
    """What the terminal redraws is the table as of now, not as of the last state change."""
    now = [0.0]
    terminal = Console(file=io.StringIO(), width=100, force_terminal=True)
    with RunProgress("run r1", console=terminal, clock=lambda: now[0], live=True) as progress:
        progress.start("silver")
        assert progress._live is not None
        now[0] = 5.0
        assert "5.0s" in _shown(progress._live.get_renderable())
        now[0] = 65.0
        assert "1m05s" in _shown(progress._live.get_renderable())


def test_download_progress_does_not_redraw_the_view_per_chunk() -> None:
    """A download reports thousands of chunks; the view redraws on its own clock."""
    terminal = Console(file=io.StringIO(), width=100, force_terminal=True)
    renders = [0]
    with RunProgress("run r1", console=terminal, live=True) as progress:
        original = progress.render

        def counted() -> object:
            renders[0] += 1
            return original()

        progress.render = counted  # type: ignore[method-assign]
        progress.start("fetch")
        before = renders[0]
        update = progress.transfer("fetch")
        for done in range(0, 2000 * 65536, 65536):
            update(done, 2000 * 65536)
        assert renders[0] - before < 20


def test_details_in_brackets_are_shown_as_written_not_read_as_markup() -> None:
    detail = "300 rows -> partition 2026-11-01-060000 [spark engine]"
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=False)
    with RunProgress("run r1 of nsde", console=console, clock=lambda: 0.0) as progress:
        progress.done("bronze", detail)
        progress.fail("silver", "s3://b/k[1].csv: [bold]not markup[/bold]")
    assert f"bronze: succeeded  0.0s  {detail}" in buffer.getvalue()
    assert "s3://b/k[1].csv: [bold]not markup[/bold]" in buffer.getvalue()
    assert "[spark engine]" in _shown(progress.render())
