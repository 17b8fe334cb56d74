"""What every command shares: one-line errors and the console."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from logitkit.exceptions import LogitkitError

console = Console()
error_console = Console(stderr=True)

#: Exit status for bad input (data, parameters or files).
EXIT_BAD_INPUT = 2


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn logitkit's and the user's errors into one line on stderr and exit status 2."""
    try:
        yield
    except (LogitkitError, ValueError, FileNotFoundError, PermissionError) as exc:
        message = " ".join(str(exc).split())
        error_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def echo(quiet: bool) -> Callable[..., None]:
    """``console.print`` unless ``quiet``."""
    if quiet:
        return _silent
    return console.print


def _silent(*_args: object, **_kwargs: object) -> None:
    """Print nothing."""


@contextmanager
def steps(quiet: bool) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr naming the current step of a long command (none when quiet).

    It is transient: on a terminal it disappears when the command ends, and elsewhere
    (pipes, logs) it prints nothing.
    """
    if quiet or not error_console.is_terminal:
        yield _silent
        return
    with error_console.status("Starting...") as status:

        def step(text: str) -> None:
            status.update(f"{text}...")

        yield step
