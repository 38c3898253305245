"""quotatune plan — what fits, what stays Pending, nodes per shape, quotas and savings."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from quotatune.cli.options import FileFormat, StoreDir

OUTPUTS = ("table", "json", "yaml", "html")
# Kubernetes' documented limit of pods in one cluster: a surge past it cannot happen, and
# 10^20 extra pods gave quotas of 10^20 cores.
MAX_SURGE_PODS = 150_000
_SHAPE_LIKE = re.compile(r"^[0-9.]+m?(?:cpus?)?/[0-9.]+[A-Za-z]+(?:/\d+(?:pods?)?)?$")


def parse_max_surge(text: str) -> float | int:
    """"25%" -> 0.25 (a share of replicas, rounded up per workload); "2" -> 2 pods."""
    from quotatune.model.errors import InputError

    t = text.strip()
    try:
        if t.endswith("%"):
            pct = float(t[:-1])
            if 0 <= pct <= 1000:
                return pct / 100
        elif t.isdigit() and int(t) <= MAX_SURGE_PODS:
            return int(t)
    except ValueError:
        pass
    raise InputError(f"bad --max-surge {text!r}: use a percentage up to 1000% like 25% or a "
                     f"pod count up to {MAX_SURGE_PODS} like 2")


def command(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="TARGET (ns/ or ns/workload; default: all), and more --from files "
                       "(a shell glob after --from)."),
    ] = None,
    from_files: Annotated[
        list[Path] | None,
        typer.Option("--from", readable=False, help="Read these files instead of the store."),
    ] = None,
    fmt: FileFormat = None,
    store: StoreDir = None,
    nodes_file: Annotated[
        Path | None, typer.Option("--nodes", help="Nodes from 'kubectl get nodes -o json'.")
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="Read the nodes from this kubeconfig context.")
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="kubeconfig file for --context.")
    ] = None,
    shapes: Annotated[
        list[str] | None,
        typer.Option("--node-shape", help="Candidate node (allocatable), e.g. 4cpu/16Gi; "
                     "repeatable; optional /PODS (default 110)."),
    ] = None,
    price_core_hour: Annotated[
        float | None, typer.Option("--price-core-hour", min=0, help="Price of a core-hour.")
    ] = None,
    price_gib_hour: Annotated[
        float | None, typer.Option("--price-gib-hour", min=0, help="Price of a GiB-hour.")
    ] = None,
    max_surge: Annotated[
        str, typer.Option("--max-surge", help="Rolling-update headroom: 25% or a pod count.")
    ] = "25%",
    docker_info: Annotated[
        Path | None,
        typer.Option("--docker-info", help="'docker info --format {{json .}}' of the host."),
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Seconds per exact-solver step.")
    ] = 5.0,
    output: Annotated[str, typer.Option("-o", "--output", help="table, json, yaml or html.")] = (
        "table"
    ),
) -> None:
    """Pack current and recommended requests onto nodes; quotas, savings, node counts."""
    from quotatune.cli import config
    from quotatune.cli.common import split_target_and_files
    from quotatune.cli.output import err
    from quotatune.model.capacity import Prices
    from quotatune.model.errors import InputError
    from quotatune.pipelines.plan import (
        load_nodes,
        parse_shape,
        plan_capacity,
        plan_inputs,
        read_docker_info,
    )

    if output not in OUTPUTS:
        raise InputError(f"unknown output {output!r}; use one of {', '.join(OUTPUTS)}")
    for flag, price in (("--price-core-hour", price_core_hour),
                        ("--price-gib-hour", price_gib_hour)):
        # inf was printed as Infinity, which is not JSON; savings of inf mean nothing.
        if price is not None and not math.isfinite(price):
            raise InputError(f"bad {flag} {price:g}: a price must be a finite number")
    if nodes_file is not None and context is not None:
        raise InputError("give --nodes or --context, not both")
    # "--node-shape 4cpu/16Gi 8cpu/32Gi": the values after the first arrive as arguments.
    # Kubernetes names are lower case, so "16Gi" cannot be a workload of a TARGET.
    extra = [a for a in args or [] if shapes and _SHAPE_LIKE.match(a) and not Path(a).exists()]
    args = [a for a in args or [] if a not in extra]
    node_shapes = [parse_shape(s) for s in [*(shapes or []), *extra]]
    surge = parse_max_surge(max_surge)
    host = read_docker_info(docker_info) if docker_info is not None else None
    prices = None
    if price_core_hour is not None or price_gib_hour is not None:
        prices = Prices(price_core_hour or 0.0, price_gib_hour or 0.0)
    nodes = load_nodes(nodes_file, context, kubeconfig)
    target, files = split_target_and_files(args or [], from_files)
    recs, data = plan_inputs(files, fmt, config.store_dir(store), target)
    plan = plan_capacity(recs, data.specs, nodes, node_shapes, max_surge=surge, prices=prices,
                         docker_host=host, events=data.events, time_limit=time_limit,
                         usage=data.usage, nodes_from=(f"--nodes {nodes_file}" if nodes_file
                                                       else f"--context {context}"))
    # After the plan, whose errors (a node of no room in --nodes) are then the only line.
    if data.usage.empty:
        err("note: no usage samples: the recommended requests equal the current ones")
    if output == "json":
        from quotatune.render.plan.data import render_plan_json

        sys.stdout.write(render_plan_json(plan))
    elif output == "yaml":
        from quotatune.render.plan.data import render_plan_yaml

        sys.stdout.write(render_plan_yaml(plan))
    elif output == "html":
        from quotatune.render.plan.html import render_plan_html

        sys.stdout.write(render_plan_html(plan))
    else:
        from quotatune.render.plan.table import render_plan_table

        sys.stdout.write(render_plan_table(plan))
    if output in ("yaml", "html"):  # table and json carry the notes themselves
        for note in plan.notes:
            err(f"note: {note}")
    for e in data.errors:
        err(f"warning: {e}")
