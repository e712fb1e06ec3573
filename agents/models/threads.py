"""torch's CPU threads: set once per process, from the cores this process may use.

torch's intra-op pool is process-wide, so threads are a property of the process, not of
a model. The first local model to load sets them (from its ``threads`` setting, else
``OMP_NUM_THREADS``, else the cores in this process's affinity mask); every later model
shares that pool. A later model asking for a different count is told, in the log, that
the first count stands: two counts in one process would mean one model's forward pass
running with threads the other starved.

Forward passes of CPU models also take one process-wide lock (:data:`CPU_COMPUTE_LOCK`):
two models computing at once from two Python threads would each start a full OpenMP
team on the same cores, and both would run slower than one after the other.
"""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["CPU_COMPUTE_LOCK", "available_cores", "configure_threads", "configured_threads"]

logger = logging.getLogger(__name__)

CPU_COMPUTE_LOCK = threading.Lock()
"""Held by every CPU model while it computes, so models never share cores at once."""

_LOCK = threading.Lock()
_configured: int | None = None


def available_cores() -> int:
    """How many cores this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _from_environment() -> int | None:
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads for this process, once.

    Args:
        threads: The count to use; None takes ``OMP_NUM_THREADS`` if set, else
            :func:`available_cores`. Ignored (with a warning) once a count is set.

    Returns:
        The count in force.

    Raises:
        ValueError: ``threads`` is below 1.
    """
    global _configured
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    with _LOCK:
        if _configured is not None:
            if threads is not None and threads != _configured:
                logger.warning(
                    "torch threads are already %d in this process (set by the first model "
                    "loaded); keeping %d, not %d",
                    _configured,
                    _configured,
                    threads,
                )
            return _configured
        import torch

        if threads is not None:
            count, why = threads, "the threads setting"
        elif (env := _from_environment()) is not None:
            count, why = env, "OMP_NUM_THREADS"
        else:
            count, why = available_cores(), "the cores available to this process"
        torch.set_num_threads(count)
        _configured = count
        logger.info("torch uses %d CPU threads (%s)", count, why)
        return count


def configured_threads() -> int:
    """The intra-op thread count torch uses now (whoever set it), for benchmark records."""
    import torch

    return torch.get_num_threads()
