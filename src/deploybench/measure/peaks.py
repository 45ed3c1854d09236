"""The sustained peaks of this machine, measured: single-thread FP32 matrix multiplication throughput
(NumPy's BLAS) and main-memory copy bandwidth. The roofline needs a peak and a bandwidth for every target,
and the catalog cannot hold one for a machine it only detects."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MATRIX = 1024
COPY_BYTES = 256 * 2**20
REPEATS = 7


class Peaks(BaseModel):
    """Measured throughput and bandwidth of one core of this machine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fp32_gflops_per_thread: float = Field(description="Best single-thread SGEMM rate, GFLOP/s.")
    bandwidth_gbps: float = Field(description="Best single-thread copy bandwidth (read + write), GB/s.")
    method: str = Field(description="How they were measured, with the library versions.")


def _best(run: Callable[[], Any]) -> float:
    """Shortest of REPEATS timed runs, seconds (after one untimed run)."""
    run()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_peaks() -> Peaks:
    """This machine's single-thread SGEMM rate and copy bandwidth, best of several runs."""
    import numpy as np
    import threadpoolctl

    rng = np.random.default_rng(0)
    a = rng.standard_normal((MATRIX, MATRIX), dtype=np.float32)
    b = rng.standard_normal((MATRIX, MATRIX), dtype=np.float32)
    out = np.empty_like(a)
    source = np.ones(COPY_BYTES // 4, dtype=np.float32)
    sink = np.empty_like(source)
    with threadpoolctl.threadpool_limits(1):
        gemm_s = _best(lambda: np.matmul(a, b, out=out))
        copy_s = _best(lambda: np.copyto(sink, source))
    blas = ", ".join(sorted({f"{i['internal_api']} {i['version']}" for i in threadpoolctl.threadpool_info()}))
    return Peaks(
        fp32_gflops_per_thread=2 * MATRIX**3 / gemm_s / 1e9,
        bandwidth_gbps=2 * COPY_BYTES / copy_s / 1e9,
        method=(
            f"best of {REPEATS}: one-thread NumPy {np.__version__} SGEMM {MATRIX}x{MATRIX} ({blas}) and a copy of "
            f"{COPY_BYTES // 2**20} MiB (bytes read + written)"
        ),
    )
