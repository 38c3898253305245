"""quotatune status — what the history store holds, and when each source last wrote."""


from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from quotatune.cli.options import StoreDir


def status(
    store: StoreDir = None,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json.")] = "table",
) -> None:
    """Containers, days (first, last, count), samples, bytes on disk and the last collection
    per source."""
    from quotatune.cli import config
    from quotatune.model.errors import InputError
    from quotatune.pipelines import maintenance

    if output not in ("table", "json"):
        raise InputError(f"-o must be table or json, not {output!r}")
    st = maintenance.status(config.store_dir(store))
    if output == "json":
        typer.echo(json.dumps(dataclasses.asdict(st), indent=2))
        return
    days = f"{st.days}" + (f" ({st.first_day} .. {st.last_day})" if st.days else "")
    lines = [f"store        {st.root}", f"containers   {st.containers}", f"days         {days}",
             f"samples      {st.samples}", f"specs        {st.specs}",
             f"events       {st.events}", f"on disk      {_size(st.bytes_on_disk)}"]
    for source, last in sorted(st.last_collection.items()):
        lines.append(f"last {source:<8}{last.get('at', '?')} "
                     f"(+{last.get('samples_added', 0)} samples, "
                     f"+{last.get('events_added', 0)} events)")
    if not st.last_collection:
        lines.append("last         no collection recorded")
    typer.echo("\n".join(lines))


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    exp = min(3, (n.bit_length() - 1) // 10)
    return f"{n / 1024 ** exp:.1f} {('KiB', 'MiB', 'GiB')[exp - 1]}"
