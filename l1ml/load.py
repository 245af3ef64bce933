"""A typed l1ml graph from what a user has: a QONNX file (frontend and passes), a ``.l1ml.json`` written
by ``l1ml compile``, or a Graph. Above the backends, which all take the graph this returns."""

from __future__ import annotations

from pathlib import Path

from l1ml.errors import InputFileError
from l1ml.ir.graph import Graph


def compile_graph(onnx_path: Path) -> Graph:
    """The typed IR of a QONNX file, refused when it exceeds the size limits of ``l1ml.limits``."""
    from l1ml.frontend.qonnx import from_qonnx
    from l1ml.limits import check_graph_size
    from l1ml.passes import run_pipeline

    g = run_pipeline(from_qonnx(onnx_path))
    check_graph_size(g)
    return g


def load_graph(model: Graph | str | Path) -> Graph:
    """A typed graph from a Graph, a ``.l1ml.json`` file or a QONNX ``.onnx`` file."""
    if isinstance(model, Graph):
        return model
    path = Path(model)
    if path.suffix == ".json":
        if not path.exists():
            raise InputFileError(f"{path}: no such file")
        return Graph.load(path)
    return compile_graph(path)
