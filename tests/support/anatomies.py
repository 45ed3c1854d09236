"""Hand-made anatomies, targets and observations for the performance-model tests: figures chosen so that
every expected value can be computed by hand."""

from __future__ import annotations

from deploybench.analyze.records import Anatomy, ClassTotals, Memory, OperatorClass
from deploybench.catalog.schemas import Target
from deploybench.select.observations import Observation


def anatomy(
    conv_flops: float, conv_bytes: float, eltwise_flops: float, eltwise_bytes: float, nodes: int = 2
) -> Anatomy:
    """An anatomy with one convolution class and one elementwise class of the given work."""
    classes = (
        ClassTotals(
            op_class=OperatorClass.CONVOLUTION,
            nodes=nodes,
            macs=int(conv_flops // 2),
            flops=int(conv_flops),
            bytes_moved=int(conv_bytes),
            intensity=conv_flops / conv_bytes,
            uncounted_nodes=0,
        ),
        ClassTotals(
            op_class=OperatorClass.ELEMENTWISE,
            nodes=nodes,
            macs=0,
            flops=int(eltwise_flops),
            bytes_moved=int(eltwise_bytes),
            intensity=eltwise_flops / eltwise_bytes,
            uncounted_nodes=0,
        ),
    )
    return Anatomy(
        path=f"m-{conv_flops:g}-{eltwise_bytes:g}.onnx",
        format="onnx",
        producer=None,
        opsets={"": 17},
        inputs=(),
        outputs=(),
        dims={},
        symbolic_dims=(),
        operators={"Conv": nodes, "Relu": nodes},
        parameters=(),
        nodes=(),
        classes=classes,
        macs=int(conv_flops // 2),
        flops=int(conv_flops + eltwise_flops),
        bytes_moved=int(conv_bytes + eltwise_bytes),
        intensity=None,
        uncounted_nodes=0,
        memory=Memory(weights_bytes=1000, peak_activation_bytes=2000, peak_at_node=None, min_working_set_bytes=None),
    )


def target(
    name: str = "board",
    fp32: float | None = 100.0,
    int8: float | None = 400.0,
    bandwidth: float | None = 10.0,
    count: int = 4,
) -> Target:
    """A catalog target with one CPU group of `count` cores, the given peaks (GFLOP/s, GOP/s) and bandwidth."""
    peak = {k: v for k, v in {"fp32_gflops": fp32, "int8_gops": int8}.items() if v is not None}
    return Target.model_validate(
        {
            "name": name,
            "display_name": name,
            "som": {"name": name},
            "soc": {"name": name},
            "processing_units": [{"kind": "CPU", "count": count, "peak": peak}],
            "memory": {"bandwidth_gbps": bandwidth} if bandwidth is not None else {},
            "sources": [{"id": "test", "title": "hand-made for a test", "covers": ["processing_units", "memory"]}],
        }
    )


def observation(
    model: Anatomy,
    latency_ms: float,
    target_name: str = "local",
    framework: str = "fw",
    sha: str | None = None,
    threads: int | None = 1,
) -> Observation:
    return Observation(
        result_id=1,
        source="test",
        model=model.path,
        model_sha256=sha or model.path,
        anatomy=model,
        framework=framework,
        target=target_name,
        precision="fp32",
        threads=threads,
        latency_ms=latency_ms,
        peak_rss_bytes=None,
        deterministic=False,
    )
