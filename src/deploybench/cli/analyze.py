"""`deploybench analyze MODEL`: interface, operators, parameters, work, memory and arithmetic intensity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deploybench.analyze.anatomy import analyze_model
from deploybench.analyze.records import Anatomy
from deploybench.cli.compliance import Frameworks, Save, Targets, print_compliance
from deploybench.cli.output import Format, note, print_table, print_text
from deploybench.cli.values import Database, parse_dims, split_names
from deploybench.core.errors import ConfigurationError
from deploybench.select.analysis_store import save_analysis
from deploybench.select.compliance import check_compliance
from deploybench.store import ResultStore


def analyze(
    model: Annotated[Path, typer.Argument(help="Model file: .onnx, .tflite or .pt2 (a torch.export program).")],
    dim: Annotated[list[str] | None, typer.Option(help="Dynamic dimension NAME=VALUE (repeatable).")] = None,
    nodes: Annotated[bool, typer.Option(help="Also list every node's work.")] = False,
    compliance: Annotated[
        bool, typer.Option(help="Also ask every framework installed here which operators it takes, and a verdict.")
    ] = False,
    frameworks: Frameworks = None,
    targets: Targets = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
    save: Save = True,
    db: Database = None,
) -> None:
    """The model's anatomy: inputs and outputs, operators, parameters, MACs and FLOPs by operator class, bytes
    moved, arithmetic intensity, and the memory one inference needs."""
    if fmt is Format.CSV:
        raise ConfigurationError("analyze prints a table or JSON", hint="use --format table or --format json")
    if (frameworks or targets) and not compliance:
        raise ConfigurationError("--frameworks and --targets filter the compliance check", hint="add --compliance")
    anatomy = analyze_model(model, parse_dims(dim or []))
    verdicts = check_compliance(model, split_names(frameworks), split_names(targets)) if compliance else None
    if save:
        with ResultStore.open(db) as store:
            save_analysis(anatomy, model, store)
            if verdicts is not None:
                save_analysis(verdicts, model, store)
    if fmt is Format.JSON:
        report = anatomy.model_dump(mode="json", exclude=None if nodes else {"nodes"})
        if verdicts is not None:
            report["compliance"] = verdicts.model_dump(mode="json")
        print_text(json.dumps(report, indent=2))
        return
    _print(anatomy, nodes)
    if verdicts is not None:
        print_compliance(verdicts)


def _print(anatomy: Anatomy, nodes: bool) -> None:
    tensors = [
        {"role": role, "name": t.name, "shape": _shape(t.shape), "dtype": t.dtype}
        for role, group in (("input", anatomy.inputs), ("output", anatomy.outputs))
        for t in group
    ]
    opsets = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in anatomy.opsets.items())
    print_table(f"{anatomy.path}: {anatomy.producer or 'unknown producer'}; opsets {opsets}", list(tensors[0]), tensors)
    operators = [{"operator": op, "nodes": str(n)} for op, n in anatomy.operators.items()]
    print_table("operators", ["operator", "nodes"], operators)
    parameters = [{"dtype": p.dtype, "count": f"{p.count:,}", "bytes": f"{p.bytes:,}"} for p in anatomy.parameters]
    if parameters:
        print_table("parameters", ["dtype", "count", "bytes"], parameters)
    classes = [
        {
            "class": c.op_class.value,
            "nodes": str(c.nodes),
            "MACs": f"{c.macs:,}",
            "FLOPs": f"{c.flops:,}",
            "bytes moved": f"{c.bytes_moved:,}",
            "FLOPs/byte": "" if c.intensity is None else f"{c.intensity:.2f}",
            "uncounted": str(c.uncounted_nodes or ""),
        }
        for c in anatomy.classes
    ]
    classes.append(
        {
            "class": "total",
            "nodes": str(len(anatomy.nodes)),
            "MACs": f"{anatomy.macs:,}",
            "FLOPs": f"{anatomy.flops:,}",
            "bytes moved": f"{anatomy.bytes_moved:,}",
            "FLOPs/byte": "" if anatomy.intensity is None else f"{anatomy.intensity:.2f}",
            "uncounted": str(anatomy.uncounted_nodes or ""),
        }
    )
    print_table("work by operator class", list(classes[0]), classes)
    memory = anatomy.memory
    print_text(
        f"weights {memory.weights_bytes:,} B; peak live activations "
        f"{_bytes(memory.peak_activation_bytes)} (at {memory.peak_at_node or 'unknown'}); "
        f"minimum working set {_bytes(memory.min_working_set_bytes)}"
    )
    if nodes:
        rows = [
            {
                "node": n.name,
                "operator": n.op_type,
                "class": n.op_class.value,
                "MACs": "" if n.macs is None else f"{n.macs:,}",
                "FLOPs": "" if n.flops is None else f"{n.flops:,}",
                "bytes moved": "" if n.bytes_moved is None else f"{n.bytes_moved:,}",
                "unknown": n.unknown or "",
            }
            for n in anatomy.nodes
        ]
        print_table("nodes", list(rows[0]), rows)
    reasons = sorted({n.unknown for n in anatomy.nodes if n.unknown})
    for reason in reasons:
        note(f"not counted: {reason}")


def _shape(shape: tuple[int | str | None, ...] | None) -> str:
    return "unknown" if shape is None else "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _bytes(value: int | None) -> str:
    return "unknown (symbolic dimensions: give --dim)" if value is None else f"{value:,} B"
