"""``%raylite``: control and inspect this kernel's cluster from a cell.

One line magic with subcommands; each subcommand's arguments are declared with IPython's
``magic_arguments``, so ``%raylite?`` documents them and a mistake raises UsageError.
"""

from __future__ import annotations

import json
import time

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring as _parse

import jupyter_raylite as ray
from jupyter_raylite import api
from jupyter_raylite.core import context
from jupyter_raylite.core.events import cell_of
from jupyter_raylite.jupyter.cell_task import names_to_ship, run_cell_body

TASK_STATES = ["waiting", "queued", "running", "finished", "failed", "cancelled"]
SUBCOMMANDS = ("status", "init", "shutdown", "restart", "tasks", "cancel", "interrupt", "graph",
               "meters", "inspect", "timeline")


@magics_class
class RayliteMagics(Magics):
    def __init__(self, shell, settings):
        super().__init__(shell)
        self.settings = settings
        self._views: dict[tuple, object] = {}  # (subcommand, notebook cell id) -> its view

    @line_magic
    def raylite(self, line: str):
        """Control and inspect this kernel's jupyter_raylite cluster.

        %raylite [status]      resources, workers, objects, tasks by state
        %raylite init [--num-cpus N] [--num-gpus N] [--resources JSON]
                      [--object-store-memory BYTES]
        %raylite shutdown      stop the cluster: every worker and segment goes
        %raylite restart       a fresh cluster (same settings); the old one fully gone
        %raylite tasks [--state STATE] [--limit N]
                               the newest tasks: waiting, queued, running, finished,
                               failed, cancelled
        %raylite cancel [--all] [REF ...]
                               cancel what the last cell submitted, everything (--all),
                               or the tasks behind the named ObjectRefs
        %raylite interrupt {cancel,keep}
                               interrupting a cell that waits in get/wait cancels the
                               tasks it submitted (default), or keeps them running as Ray does
        %raylite graph [--this-cell] [--function NAME] [--max-nodes N]
                               the live task graph; click a task to inspect it
        %raylite meters        live resource meters: CPUs, workers, object store, throughput
        %raylite inspect [REF | TASK_ID]
                               the task inspector: the task behind an ObjectRef variable,
                               or pick one from its list
        %raylite timeline [FILE]
                               a Gantt chart of the tasks per worker; with FILE, also write
                               Ray's Chrome trace (open in chrome://tracing or Perfetto)

        Example: %raylite init --num-cpus 4
        """
        word, _, rest = line.strip().partition(" ")
        word = word or "status"
        if word not in SUBCOMMANDS:
            raise UsageError(f"Unknown subcommand {word!r}. Subcommands: "
                             f"{', '.join(SUBCOMMANDS)}. See %raylite?")
        return getattr(self, f"_{word}")(rest)

    @magic_arguments()
    @argument("--num-cpus", type=float, default=None, help="CPUs the cell's task holds")
    @argument("--name", type=str, default=None, help="the task's name (output prefix)")
    @argument("--out", type=str, default="_remote",
              help="variable to bind the ObjectRef of the cell's last expression to")
    @cell_magic
    def remote(self, line: str, cell: str):
        """Run this cell as a task on the cluster.

        The notebook variables the cell reads travel with it (ObjectRefs among them are
        resolved, as task arguments are); the value of its last expression becomes an
        ObjectRef bound to --out (default ``_remote``); what it prints appears under the cell.

        Example:
            %%remote --num-cpus 2 --out total
            sum(x * x for x in data)
        """
        args = parse_args(self.remote, line)
        if not args.out.isidentifier():
            raise UsageError(f"--out must be a variable name, got {args.out!r}.")
        try:
            names = names_to_ship(cell, self.shell.user_ns, self.shell.user_ns_hidden)
        except SyntaxError as exc:
            raise UsageError(f"The cell is not valid Python: {exc}") from None
        options = {"name": args.name or "remote_cell"}
        if args.num_cpus is not None:
            options["num_cpus"] = args.num_cpus
        try:
            task = ray.remote(run_cell_body).options(**options)
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        filename = self.shell.compile.cache(cell) if hasattr(self.shell, "compile") else "<cell>"
        self.shell.user_ns[args.out] = task.remote(cell, filename, **names)

    @magic_arguments()
    def _status(self, line):
        """Show the cluster's resources, workers, objects and tasks."""
        parse_args(self._status, line)
        runtime = context.current_runtime(auto=False)
        if runtime is None or not hasattr(runtime, "statistics"):
            print("No local cluster is running. Start one with %raylite init.")
            return
        stats = runtime.statistics()
        print(f"jupyter_raylite cluster {runtime.cluster_id}")
        for name in sorted(stats.total):
            if name.startswith("node:"):
                continue
            total, free = stats.total[name], stats.available.get(name, 0)
            print(f"  {name:<20} {total - free:g} of {total:g} in use")
        print(f"  workers {stats.workers}, actors alive {stats.actors_alive}")
        objects = stats.objects
        print(f"  objects {objects.objects} ({objects.pending} pending), shared memory "
              f"{objects.shared_memory_bytes / 2**20:.1f} MiB in {objects.segments} segments")
        tasks = ", ".join(f"{state} {n}" for state, n in sorted(stats.tasks.items()))
        print(f"  tasks: {tasks or 'none waiting or running'}")

    @magic_arguments()
    @argument("--num-cpus", type=float, default=None, help="CPUs to offer tasks")
    @argument("--num-gpus", type=float, default=None, help="GPUs to offer tasks")
    @argument("--resources", type=str, default=None,
              help='custom resources as JSON, e.g. \'{"disk": 2}\'')
    @argument("--object-store-memory", type=int, default=None,
              help="bytes of object store to report")
    def _init(self, line):
        """Start the cluster (if none runs) with these settings."""
        args = parse_args(self._init, line)
        options = self._init_options(args)
        try:  # a running cluster: same settings is a no-op, else init() says what to do
            ray.init(**options)
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
        self.settings.init_options = options

    def _init_options(self, args, base: dict | None = None) -> dict:
        """The options the arguments ask for, checked now: a mistake must not cost the
        running cluster."""
        options = {"num_cpus": args.num_cpus, "num_gpus": args.num_gpus,
                   "object_store_memory": args.object_store_memory}
        if args.resources is not None:
            try:
                options["resources"] = json.loads(args.resources)
            except json.JSONDecodeError as exc:
                raise UsageError(f"--resources must be JSON, e.g. '{{\"disk\": 2}}': {exc}")
            if not isinstance(options["resources"], dict):
                raise UsageError("--resources must be a JSON object of name to amount.")
        options = {**(base or {}), **{k: v for k, v in options.items() if v is not None}}
        try:
            api.check_init_options(**options)
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        return options

    @magic_arguments()
    def _shutdown(self, line):
        """Stop the cluster: every worker process and shared-memory segment goes."""
        parse_args(self._shutdown, line)
        ray.shutdown()

    @magic_arguments()
    @argument("--num-cpus", type=float, default=None, help="CPUs of the new cluster")
    @argument("--num-gpus", type=float, default=None, help="GPUs of the new cluster")
    @argument("--resources", type=str, default=None, help="custom resources as JSON")
    @argument("--object-store-memory", type=int, default=None, help="object store bytes")
    def _restart(self, line):
        """Replace the cluster by a fresh one; ObjectRefs and actors of the old one are gone."""
        args = parse_args(self._restart, line)
        options = self._init_options(args, base=self.settings.init_options)
        ray.shutdown()
        ray.init(**options)
        self.settings.init_options = options

    @magic_arguments()
    @argument("--state", choices=TASK_STATES, default=None, help="only tasks in this state")
    @argument("--limit", type=int, default=20, help="at most this many rows (newest first)")
    def _tasks(self, line):
        """A table of the cluster's tasks, newest first."""
        args = parse_args(self._tasks, line)
        if args.limit < 1:
            raise UsageError("--limit must be at least 1.")
        runtime = context.current_runtime(auto=False)
        if runtime is None or not hasattr(runtime, "task_table"):
            raise UsageError("No local cluster is running. Start one with %raylite init.")
        rows = runtime.task_table(args.state, args.limit)
        if not rows:
            print("No tasks" + (f" in state {args.state}." if args.state else " yet."))
            return
        print(f"{'task':<28} {'function':<24} {'state':<10} {'pid':>7} {'seconds':>8}")
        now = time.time()
        for row in rows:
            seconds = (row.ended_at or now) - row.submitted_at
            print(f"{row.task_id:<28} {row.name[:24]:<24} {row.state:<10} "
                  f"{row.pid or '':>7} {seconds:>8.2f}")

    @magic_arguments()
    @argument("--all", action="store_true", help="cancel every task of the cluster")
    @argument("refs", nargs="*", help="names of ObjectRef variables whose tasks to cancel")
    def _cancel(self, line):
        """Cancel what the last cell submitted, everything, or the tasks of named refs."""
        args = parse_args(self._cancel, line)
        runtime = context.current_runtime(auto=False)
        if runtime is None:
            raise UsageError("No cluster is running.")
        if args.all and args.refs:
            raise UsageError("Give either --all or ObjectRef names, not both.")
        if not hasattr(runtime, "cancel_origin"):
            raise UsageError("%raylite cancel needs the local cluster (not local_mode).")
        if args.all:
            runtime.cancel_all()
            return
        if args.refs:
            chosen = []
            for name in args.refs:  # all checked before any is cancelled
                value = self.shell.user_ns.get(name)
                refs = value if isinstance(value, list) else [value]
                if not refs or not all(isinstance(r, ray.ObjectRef) for r in refs):
                    raise UsageError(f"{name!r} is not an ObjectRef (or a list of them).")
                chosen += refs
            for ref in chosen:
                ray.cancel(ref)
            return
        last = self.settings.last_submitting_cell
        if last is None:
            print("No cell has submitted work yet.")
            return
        runtime.cancel_origin(lambda origin: cell_of(origin) == last)

    @magic_arguments()
    @argument("mode", choices=["cancel", "keep"],
              help="cancel: an interrupt cancels the waiting cell's tasks; keep: they run on")
    def _interrupt(self, line):
        """Choose what interrupting a cell that waits in get/wait does to its tasks."""
        args = parse_args(self._interrupt, line)
        self.settings.cancel_on_interrupt = args.mode == "cancel"


    @magic_arguments()
    @argument("--this-cell", action="store_true",
              help="show only the tasks this cell submits")
    @argument("--function", type=str, default=None, help="show only this function's tasks")
    @argument("--max-nodes", type=int, default=None,
              help="beyond this many tasks, group them by function (default 300)")
    def _graph(self, line):
        """Display the live task graph, its filters and the task inspector."""
        args = parse_args(self._graph, line)
        if args.max_nodes is not None and args.max_nodes < 1:
            raise UsageError("--max-nodes must be at least 1.")
        from jupyter_raylite.widgets import task_graph
        return self._view("graph", task_graph(cell="this" if args.this_cell else None,
                                              function=args.function,
                                              max_nodes=args.max_nodes))

    @magic_arguments()
    def _meters(self, line):
        """Display live resource meters."""
        parse_args(self._meters, line)
        from jupyter_raylite.widgets import meters
        return self._view("meters", meters())

    @magic_arguments()
    @argument("task", nargs="?", default=None,
              help="the task to show: an ObjectRef variable it returned, or the task's id")
    def _inspect(self, line):
        """Display the task inspector."""
        args = parse_args(self._inspect, line)
        task = args.task
        if task is not None and isinstance(self.shell.user_ns.get(task), ray.ObjectRef):
            task = self.shell.user_ns[task]
        from jupyter_raylite.widgets import inspector
        return self._view("inspect", inspector(task))

    def _view(self, kind: str, view):
        """Re-running a cell replaces its view: the old one is closed, so it stops updating
        (front ends send the id of the notebook cell with each request)."""
        kernel = getattr(self.shell, "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
        cell_id = ((parent or {}).get("metadata") or {}).get("cellId")
        if cell_id is not None:
            previous = self._views.pop((kind, cell_id), None)
            if previous is not None:
                previous.close()
            self._views[(kind, cell_id)] = view
        return view

    @magic_arguments()
    @argument("file", nargs="?", default=None,
              help="also write Ray's Chrome trace (JSON) to this file")
    def _timeline(self, line):
        """Show a Gantt chart of the tasks that ran, per worker, coloured by function."""
        args = parse_args(self._timeline, line)
        runtime = context.current_runtime(auto=False)
        if runtime is None or not hasattr(runtime, "events_since"):
            raise UsageError("No local cluster is running. Start one with %raylite init.")
        from IPython.display import Image, display
        from jupyter_raylite.observe import timeline
        if args.file:
            timeline.write_chrome_trace(runtime, args.file)
            print(f"Wrote the Chrome trace to {args.file}: open it in chrome://tracing or "
                  "https://ui.perfetto.dev")
        figure = timeline.gantt(runtime)
        display(Image(data=_png(figure)))


def _png(figure) -> bytes:
    import io
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def parse_args(handler, line: str):
    """IPython's magic argument parsing, with an unbalanced quote reported as a UsageError
    (shlex raises ValueError for it; found by fuzzing)."""
    try:
        return _parse(handler, line)
    except ValueError as exc:
        raise UsageError(f"Could not read the arguments {line!r}: {exc}.") from None
