"""What ``%%remote`` runs in a worker: a cell's source, with the notebook names it reads.

Kept free of IPython imports: workers import this module to run the task.
"""

from __future__ import annotations

import ast
import builtins

# Names IPython puts in the user namespace that a cell may mention but never needs shipped.
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "_", "__", "___",
                            "_ih", "_oh", "_dh", "_i", "_ii", "_iii"})


def names_read(source: str, namespace: dict) -> dict:
    """The notebook variables that ``source`` reads: what must travel with the task."""
    tree = ast.parse(source)
    loaded = {node.id for node in ast.walk(tree)
              if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return {name: namespace[name] for name in sorted(loaded)
            if name in namespace and name not in _IPYTHON_NAMES
            and not name.startswith("_i") and not hasattr(builtins, name)}


def run_cell_body(source: str, filename: str, **names):
    """Run the cell in this process; return the value of its last expression, if any."""
    tree = ast.parse(source, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    namespace = {"__name__": "__remote_cell__", **names}
    exec(compile(tree, filename, "exec"), namespace)
    return eval(compile(last, filename, "eval"), namespace) if last is not None else None
