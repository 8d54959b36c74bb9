"""Open the tutorial notebook in JupyterLab, or run it headless where there is no screen.

    python scripts/open_tutorial.py              # JupyterLab if a browser can open, else headless
    python scripts/open_tutorial.py --headless   # run every cell here, print what they print

Headless, the notebook runs in a fresh kernel (as nbval does); each cell's code and text output
are printed in order, and the exit status is 1 if a cell fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parent.parent / "notebooks" / "01-learning-ray-core.ipynb"


def has_screen() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_in_jupyterlab() -> int:
    return subprocess.call([sys.executable, "-m", "jupyterlab", str(TUTORIAL)],
                           cwd=TUTORIAL.parent)


def run_headless() -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(TUTORIAL, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(TUTORIAL.parent)}})
    print(f"Running {TUTORIAL.name} headless (no screen to open JupyterLab on).\n")
    failed = None
    try:
        client.execute()
    except CellExecutionError as error:
        failed = error
    for cell in notebook.cells:
        if cell.cell_type != "code" or not cell.get("execution_count"):
            continue
        print(f"In [{cell.execution_count}]:")
        print("    " + cell.source.replace("\n", "\n    "))
        for output in cell.outputs:
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            if output.output_type == "error":
                text = f"{output.ename}: {output.evalue}"
            if text:
                print(text.rstrip())
        print()
    if failed is not None:
        print(f"A cell failed:\n{failed}", file=sys.stderr)
        return 1
    print("The tutorial ran to the end.")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headless", action="store_true",
                        help="run the notebook here instead of opening JupyterLab")
    args = parser.parse_args()
    if args.headless or not has_screen():
        return run_headless()
    return open_in_jupyterlab()


if __name__ == "__main__":
    sys.exit(main())
