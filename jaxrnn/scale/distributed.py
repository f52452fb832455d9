"""Several processes (hosts) as one JAX program: ``jax.distributed.initialize`` and who writes.

``jaxrnn char|sweep|reproduce --distributed`` starts the same command on every host. With no
other flag, ``jax.distributed.initialize()`` detects the coordinator, process count and index
under Slurm, Open MPI, Kubernetes or Cloud TPU; elsewhere pass ``--coordinator HOST:PORT
--num-processes N --process-id I`` on each host (``127.0.0.1:PORT`` runs N processes on one
machine). Afterwards ``jax.devices()`` lists every host's devices, each process feeds its own
devices' shards (``jaxrnn.scale.mesh.place``), and only process 0 writes files
(``jaxrnn.io.runs.is_writer``).
"""
from __future__ import annotations

import jax


def add_arguments(parser) -> None:
    """``--distributed``, ``--coordinator``, ``--num-processes``, ``--process-id``."""
    parser.add_argument("--distributed", action="store_true",
                        help="call jax.distributed.initialize() first (several hosts)")
    parser.add_argument("--coordinator", help="with --distributed: process 0's HOST:PORT")
    parser.add_argument("--num-processes", type=int, help="with --distributed: host count")
    parser.add_argument("--process-id", type=int, help="with --distributed: this host's index")


def initialize(distributed: bool, coordinator=None, num_processes=None,
               process_id=None) -> None:
    """Joins the multi-process run when ``distributed`` (call it before anything touches a
    device); refuses the address flags without ``--distributed`` or given only in part."""
    given = coordinator or num_processes is not None or process_id is not None
    if not distributed:
        if given:
            raise ValueError("--coordinator, --num-processes and --process-id need --distributed")
        return
    if jax.distributed.is_initialized():
        return
    if given and not (coordinator and num_processes is not None and process_id is not None):
        raise ValueError("give all three of --coordinator HOST:PORT, --num-processes N and "
                         "--process-id I, or none of them (auto-detection on a cluster)")
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id)
    except ValueError as e:
        if coordinator:
            raise
        raise ValueError(f"--distributed found no coordinator ({e}): pass --coordinator "
                         f"HOST:PORT --num-processes N --process-id I, set "
                         f"JAX_COORDINATOR_ADDRESS, or run under Slurm, Open MPI, Kubernetes "
                         f"or Cloud TPU") from e


def tag() -> str:
    """``"[process i/n] "`` on a multi-process run, else ``""`` (a prefix for log lines)."""
    n = jax.process_count()
    return f"[process {jax.process_index()}/{n}] " if n > 1 else ""
