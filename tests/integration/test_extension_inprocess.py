"""Loading and unloading the extension in an in-process IPython shell."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython

import jupyter_raylite as ray
from jupyter_raylite import api
from jupyter_raylite.core import runtime
from jupyter_raylite.core.refs import ObjectRef


@pytest.fixture
def shell():
    from IPython import get_ipython
    ip = start_ipython() or get_ipython()  # one shell per test process
    yield ip
    ip.run_line_magic("unload_ext", "jupyter_raylite")
    ip.config.pop("Raylite", None)
    ray.shutdown()


def test_extension_unload_undoes_exactly_what_load_did(shell):
    html = shell.display_formatter.formatters["text/html"]
    before = (runtime.output_sink, api.reinit_policy, html.lookup_by_type(ObjectRef)
              if ObjectRef in html.type_printers else None)
    shell.run_line_magic("load_ext", "jupyter_raylite")
    assert ray.is_initialized() and "raylite" in shell.magics_manager.magics["line"]
    assert "remote" in shell.magics_manager.magics["cell"]
    shell.run_line_magic("unload_ext", "jupyter_raylite")
    assert not ray.is_initialized()
    assert "raylite" not in shell.magics_manager.magics["line"]
    assert "remote" not in shell.magics_manager.magics["cell"]
    assert "RayliteMagics" not in shell.magics_manager.registry
    after = (runtime.output_sink, api.reinit_policy, html.lookup_by_type(ObjectRef)
             if ObjectRef in html.type_printers else None)
    assert after == before


def test_extension_failed_load_installs_nothing(shell):
    from traitlets.config import Config
    shell.config.Raylite = Config({"num_cpus": -1})  # c.Raylite.num_cpus = -1
    with pytest.raises(UsageError, match="c.Raylite"):
        shell.extension_manager.load_extension("jupyter_raylite")
    assert not ray.is_initialized()
    assert "raylite" not in shell.magics_manager.magics["line"]
    assert api.reinit_policy is None


def test_extension_unload_keeps_a_cluster_the_user_started(shell):
    shell.run_line_magic("load_ext", "jupyter_raylite")
    shell.run_line_magic("raylite", "restart --num-cpus 1")
    shell.run_line_magic("unload_ext", "jupyter_raylite")
    assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 1


def test_extension_init_replaces_only_an_unused_cluster(shell):
    shell.run_line_magic("load_ext", "jupyter_raylite")
    ray.init(num_cpus=1)  # the cluster %load_ext started is unused: replaced
    assert ray.cluster_resources()["CPU"] == 1
    ray.init(num_cpus=1)  # re-running the cell: harmless
    keep = ray.put("work")
    with pytest.raises(RuntimeError, match="%raylite restart"):
        ray.init(num_cpus=2)
    assert ray.get(keep) == "work"
