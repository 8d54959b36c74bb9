"""What ``%%remote`` runs in a worker: a cell's source, with the notebook names it reads.

Kept free of IPython imports: workers import this module to run the task.
"""

from __future__ import annotations

import ast
import symtable


def free_names(source: str) -> set[str]:
    """Names the cell reads from its global namespace (the notebook's), found with the
    compiler's own scope analysis: a nested function's parameters or a comprehension's
    variable are not among them; ``x += 1`` reads ``x``."""
    names: set[str] = set()

    def visit(table: symtable.SymbolTable) -> None:
        top = table.get_type() == "module"
        for symbol in table.get_symbols():
            if (top and symbol.is_referenced()) or (not top and symbol.is_global()):
                names.add(symbol.get_name())
        for child in table.get_children():
            visit(child)

    visit(symtable.symtable(source, "<cell>", "exec"))
    for node in ast.walk(ast.parse(source)):  # "x += 1" at the top level also reads x
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def names_to_ship(source: str, namespace: dict, hidden: dict | set = ()) -> dict:
    """The notebook variables the cell reads, except IPython's own (``hidden``).  A variable
    that shadows a builtin travels too; a builtin nobody shadowed does not."""
    return {name: namespace[name] for name in sorted(free_names(source))
            if name in namespace and name not in hidden}


def run_cell_body(source: str, filename: str, /, **names):
    """Run the cell in this process; return the value of its last expression, if any."""
    tree = ast.parse(source, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    namespace = {"__name__": "__remote_cell__", **names}
    exec(compile(tree, filename, "exec"), namespace)
    return eval(compile(last, filename, "eval"), namespace) if last is not None else None
