"""Seeds across processes and machines on JAX's own multi-process runtime (`jax.distributed`).

When a sweep outgrows one machine, every host runs the same `train.py --seeds ...` with the address of
one coordinator (process 0), the number of processes and its own id. After `initialize`, `jax.devices()`
lists the devices of all processes, so the seeds mesh of `runner` spans them all and each process trains
the seeds that land on its own devices: the program is the one-machine program, unchanged. Seeds never
talk to each other while training; the only communication is at the end, when the small per-seed curves
and probe figures are gathered to every process (so process 0 can write summary.json) and a barrier lets
no process exit while another still saves. Parameters are never sent: each process saves its own seeds.

On CPUs the cross-process collectives run on gloo. The three settings come from flags or from the
environment (JAXJEPA_COORDINATOR, JAXJEPA_NUM_PROCESSES, JAXJEPA_PROCESS_ID); `--coordinator auto`
lets JAX read them from a cluster scheduler it knows (SLURM, Open MPI, ...).
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import sys
import threading
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxjepa import cli

ENV = {
    "coordinator": "JAXJEPA_COORDINATOR",
    "num_processes": "JAXJEPA_NUM_PROCESSES",
    "process_id": "JAXJEPA_PROCESS_ID",
}
INIT_TIMEOUT_S = 120  # how long the processes have to find each other
# JAX's own limit, later than ours: when it passes it aborts the process with a C++ stack trace, so the watchdog in
# `initialize` has said what went wrong in one line and exited before it.
JAX_INIT_TIMEOUT_S = INIT_TIMEOUT_S + 60
BARRIER_TIMEOUT_MS = 6 * 3600 * 1000  # how far behind the slowest process may finish its seeds
_barriers = itertools.count()  # barrier ids must be unique; every process counts alike


class Cluster(NamedTuple):
    coordinator: str  # host:port of process 0, or "auto" for a scheduler JAX detects
    num_processes: int | None
    process_id: int | None


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("several processes or machines (jax.distributed; default: one process)")
    group.add_argument(
        "--coordinator",
        default=os.environ.get(ENV["coordinator"]),
        metavar="HOST:PORT",
        help=f"address of process 0, or 'auto' on SLURM/Open MPI (env {ENV['coordinator']})",
    )
    for name in ("num_processes", "process_id"):
        group.add_argument(
            f"--{name.replace('_', '-')}",
            type=cli.plain_int,
            default=_env_int_or_fail(ENV[name]),
            metavar="INT",
            help=f"env {ENV[name]}",
        )


def _env_int(name: str) -> int | None:
    text = os.environ.get(name)
    if text is not None and not cli.PLAIN_INT.fullmatch(text.strip()):  # int() would take "1_0" and "٣"
        raise ValueError(f"{name}={text!r} is not an integer")
    return None if text is None else int(text)


def _env_int_or_fail(name: str) -> int | None:
    """The integer in environment variable `name` (None if unset); a non-integer ends the program in one line."""
    try:
        return _env_int(name)
    except ValueError as err:
        cli.fail(f"{os.path.basename(sys.argv[0]) or 'jaxjepa'}: {err}")


def cluster_from(args: argparse.Namespace) -> Cluster | None:
    """The cluster the flags name, None for a plain one-process run; ValueError if they do not add up."""
    if not args.coordinator:
        if args.num_processes not in (None, 1) or args.process_id not in (None, 0):
            raise ValueError("--num-processes/--process-id need --coordinator HOST:PORT")
        return None
    if args.coordinator == "auto":
        return Cluster("auto", None, None)
    host, _, port = args.coordinator.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"--coordinator wants HOST:PORT or auto, got {args.coordinator!r}")
    n, rank = args.num_processes, args.process_id
    if n is None or rank is None or n < 1 or not 0 <= rank < n:
        raise ValueError(
            f"with --coordinator, give --num-processes N >= 1 and --process-id in 0..N-1 (got {n} and {rank})"
        )
    return Cluster(args.coordinator, n, rank)


def initialize(cluster: Cluster) -> None:
    """Join the cluster; afterwards jax.devices() lists every process's devices. ConnectionError when a process
    other than 0 cannot reach the coordinator or `auto` finds no cluster, and one line and exit 1 when the cluster
    does not form within INIT_TIMEOUT_S (process 0 whose peers never join, say): JAX would abort the process with
    a C++ stack trace."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if cluster.coordinator != "auto" and cluster.process_id != 0:
        wait_for_coordinator(cluster.coordinator, INIT_TIMEOUT_S)
    formed = threading.Event()
    deciding = threading.Lock()  # the watchdog's verdict and the cluster's forming exclude each other
    watchdog = threading.Timer(INIT_TIMEOUT_S, _never_formed, (cluster, formed, deciding))
    watchdog.daemon = True
    watchdog.start()
    try:
        if cluster.coordinator == "auto":
            try:
                jax.distributed.initialize(initialization_timeout=JAX_INIT_TIMEOUT_S)
            except ValueError as err:  # JAX found no scheduler's variables to read the cluster from
                raise ConnectionError(
                    f"--coordinator auto found no cluster to join ({err}): it reads SLURM's or Open MPI's "
                    "variables, so run it under srun or mpirun, or give --coordinator HOST:PORT, --num-processes "
                    "and --process-id"
                ) from None
        else:
            jax.distributed.initialize(
                cluster.coordinator,
                cluster.num_processes,
                cluster.process_id,
                initialization_timeout=JAX_INIT_TIMEOUT_S,
            )
    finally:
        watchdog.cancel()
    with deciding:  # a watchdog that has begun its verdict exits the process before this returns
        formed.set()


def _never_formed(cluster: Cluster, formed: threading.Event, deciding: threading.Lock) -> None:
    """The watchdog's line: JAX blocks in C++ while the cluster forms, so only another thread can speak, and only
    an immediate exit ends the blocked call. A cluster that formed meanwhile is left alone."""
    with deciding:
        if formed.is_set():
            return
        if cluster.coordinator == "auto":
            who, advice = "the scheduler's cluster", "check that every task of the job started"
        else:
            who = f"the cluster of {cluster.num_processes} processes at {cluster.coordinator} (this is process "
            who += f"{cluster.process_id})"
            advice = (
                "start every process, each with the same --coordinator and --num-processes and its own --process-id"
            )
        prog = os.path.basename(sys.argv[0]) or "jaxjepa"
        print(f"{prog}: {who} did not form within {INIT_TIMEOUT_S:.0f} s: {advice}", file=sys.stderr, flush=True)
        os._exit(cli.FAILED)


def wait_for_coordinator(address: str, timeout_s: float, retry_s: float = 1.0) -> None:
    """Return once a TCP connection to `address` (host:port) opens; ConnectionError after `timeout_s` without one."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=retry_s).close()
            return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise ConnectionError(
                    f"no coordinator answered at {address} within {timeout_s:.0f} s ({err.strerror or err}); "
                    "start process 0 there, or check the address"
                ) from None
            time.sleep(retry_s)


def is_multiprocess() -> bool:
    return jax.process_count() > 1


def is_main_process() -> bool:
    return jax.process_index() == 0


def gather(tree: Any, rows: int) -> Any:
    """Every process gets the first `rows` rows of each leaf of a seeds-sharded tree, as NumPy."""
    from jax.experimental import multihost_utils

    if is_multiprocess():
        wait_for_all("gather")
        tree = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[:rows], jax.device_get(tree))


def local_row(tree: Any, row: int) -> Any | None:
    """Row `row` of every leaf, as NumPy, if this process holds it; None if another process does."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    found = []
    for leaf in leaves:
        for shard in leaf.addressable_shards:
            start, stop, _ = shard.index[0].indices(leaf.shape[0])
            if start <= row < stop:
                found.append(np.asarray(shard.data)[row - start])
                break
        else:
            return None
    return jax.tree_util.tree_unflatten(treedef, found)


def wait_for_all(name: str) -> None:
    """A barrier across processes (a no-op in a one-process run). Why the coordination service's barrier
    and not a collective: gloo gives up after 30 s when one process reaches its first collective that
    much later than another (seen on a loaded machine), while a host whose seeds train slower may lag by
    minutes; this barrier waits up to BARRIER_TIMEOUT_MS, and the collectives after it start together."""
    if is_multiprocess():
        from jax._src import distributed as runtime  # the client has no public handle in jax 0.10.2

        runtime.global_state.client.wait_at_barrier(f"jaxjepa {name} {next(_barriers)}", BARRIER_TIMEOUT_MS)
