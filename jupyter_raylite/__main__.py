"""The drop-in runner: run a program written for Ray on jupyter_raylite, unchanged.

    python -m jupyter_raylite SCRIPT.py [ARGS ...]
    python -m jupyter_raylite -m MODULE [ARGS ...]
    python -m jupyter_raylite --install-kernel [--user | --sys-prefix | --prefix DIR]

The program runs as ``python SCRIPT.py`` would run it (``__name__ == "__main__"``, its
``sys.argv``, its folder first on ``sys.path``), except that ``import ray`` and ``import
ray.<sub>`` give jupyter_raylite, in the program and in every worker (dropin.py).
``--install-kernel`` installs a Jupyter kernel, "Python 3 (Ray on jupyter_raylite)", that
starts this way with the extension loaded, so a notebook written for Ray runs unchanged in it,
with the magics and views of ``%load_ext jupyter_raylite``.
"""

from __future__ import annotations

import os
import runpy
import sys

from jupyter_raylite import dropin

KERNEL_NAME = "ray-on-raylite"


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv[0] == "--install-kernel":
        return install_kernel(argv[1:])
    if argv[0] == "-m":
        if len(argv) < 2:
            print("python -m jupyter_raylite -m: name the module to run, e.g. -m pytest",
                  file=sys.stderr)
            return 2
        dropin.as_ray()
        sys.argv = argv[1:]
        sys.path[0] = os.getcwd()  # as `python -m MODULE` does
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    script = argv[0]
    if not os.path.exists(script):
        print(f"python -m jupyter_raylite: can't open file {script!r}: no such file",
              file=sys.stderr)
        return 2
    dropin.as_ray()
    sys.argv = argv
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python SCRIPT` does
    runpy.run_path(script, run_name="__main__")
    return 0


def install_kernel(options: list[str]) -> int:
    """Install the kernelspec with jupyter_client's own installer (the usual places)."""
    import argparse
    import json
    import tempfile

    from jupyter_client.kernelspec import KernelSpecManager

    parser = argparse.ArgumentParser(prog="python -m jupyter_raylite --install-kernel")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for this user only")
    where.add_argument("--sys-prefix", action="store_true", help="in this environment")
    where.add_argument("--prefix", help="under this prefix")
    args = parser.parse_args(options)
    spec = {
        # Started through the runner (import ray is ours from the first cell), with the
        # extension loaded (this kernel's cluster, output in its cell, the magics).
        "argv": [sys.executable, "-m", "jupyter_raylite", "-m", "ipykernel_launcher",
                 "--ext=jupyter_raylite", "-f", "{connection_file}"],
        "display_name": "Python 3 (Ray on jupyter_raylite)",
        "language": "python",
        "env": {dropin.ENV_VARIABLE: "1"},
        "metadata": {"debugger": True},
    }
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "kernel.json"), "w") as f:
            json.dump(spec, f, indent=1)
        prefix = sys.prefix if args.sys_prefix else args.prefix
        path = KernelSpecManager().install_kernel_spec(
            folder, KERNEL_NAME, user=args.user, prefix=prefix)
    print(f"Installed the kernel {spec['display_name']!r} in {path}")
    return 0


if __name__ == "__main__":
    # Python's own name for this module is __main__; the program's __main__ replaces it.
    sys.exit(main(sys.argv[1:]))
