"""``kseg models list`` and ``kseg models pull``."""
from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from kseg.errors import KsegError

from .common import models_app, _as_dict, _emit_json, _error, _stderr



@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per model.")] = False,
) -> None:
    """Show the models kseg can use and where they are (or that they are missing).

    Example: kseg models list --json
    """
    from kseg.segment.registry import list_models

    try:
        rows = [_as_dict(m) for m in list_models()]
    except KsegError as e:
        _error(str(e))
        raise typer.Exit(1)
    if as_json:
        for r in rows:
            _emit_json(r)
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in cols))
    out = Console(highlight=False, emoji=False)
    if not out.is_terminal:  # piped: never cut a path to fit 80 columns
        out = Console(highlight=False, emoji=False, width=1000)
    out.print(table)


@models_app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="Official checkpoint name, e.g. vit_b.")],
) -> None:
    """Download an official SAM checkpoint into the user cache (SHA-256 checked).

    Example: kseg models pull vit_b
    """
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    from kseg.segment.registry import pull

    with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                  console=_stderr, transient=True, disable=not _stderr.is_terminal) as bar:
        task = bar.add_task(f"pulling {name}", total=None)
        try:
            path = pull(name, progress=lambda done, total: bar.update(task, completed=done,
                                                                        total=total))
        except KsegError as e:
            bar.stop()
            _error(str(e))
            raise typer.Exit(1)
    typer.echo(str(path))  # stdout: where it is, for scripts
