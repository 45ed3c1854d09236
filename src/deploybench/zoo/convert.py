"""`python -m deploybench.zoo.convert MODEL.onnx FOLDER`, inside the `litert` toolchain: convert an ONNX export
to `.tflite` with onnx2tf (as the LiteRT backend does), and write {path, converter} (JSON) on stdout."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path


def main() -> None:
    """Keep stdout for the reply alone."""
    from deploybench.backends.litert import convert_onnx
    from deploybench.core.errors import DeploybenchError

    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    model, folder = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        with tempfile.TemporaryDirectory(prefix="deploybench-zoo-") as work:
            made = convert_onnx(model, Path(work))
            target = folder / f"{model.stem}.tflite"
            shutil.move(str(made), target)
    except DeploybenchError as exc:
        channel.write(json.dumps({"error": exc.message}) + "\n")
        sys.exit(3)
    reply = {"path": str(target), "converter": f"onnx2tf {version('onnx2tf')}, inputs in the ONNX model's layout"}
    channel.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
