"""The widgets in a real browser: JupyterLab 4 and Notebook 7 on 127.0.0.1, headless Chromium
driven by Playwright, the notebook live_widgets.ipynb run with Run All.

What a user sees is asserted: the task graph's nodes change state live (load: running, then
finished; combine: waiting, then finished; validate: failed), the CPU meter moves, clicking the
failed node shows its error in the inspector, the timeline draws.  Screenshots are saved in
tests/browser/screenshots/ (the README's picture is one of them).

Without /usr/bin/chromium the test is skipped, unless RAYLITE_REQUIRE_BROWSER=1 (set by CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = HERE / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

if not os.path.exists(CHROMIUM):
    if os.environ.get("RAYLITE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"RAYLITE_REQUIRE_BROWSER=1 but {CHROMIUM} is missing: "
                           "apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)",
                allow_module_level=True)

playwright = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The front ends: how to start each and where it opens a notebook.
FRONT_ENDS = {"jupyterlab": "/lab/tree/live_widgets.ipynb",
              "notebook": "/notebooks/live_widgets.ipynb"}


@pytest.fixture(params=list(FRONT_ENDS))
def lab(request, tmp_path):
    """A JupyterLab (or Notebook 7) server on 127.0.0.1 serving a copy of the notebook;
    yields (the notebook's url, the server's url, the token)."""
    app = request.param
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(HERE / "live_widgets.ipynb", root)
    port, token = _free_port(), "raylite-browser-test"
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR",
                 "IPYTHONDIR"):
        env[name] = str(tmp_path / name.lower())
    labconfig = tmp_path / "jupyter_config_dir" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    settings = tmp_path / "jupyterlab_settings_dir" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    server = subprocess.Popen(
        [sys.executable, "-m", app, "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", "--ServerApp.allow_root=True",
         "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "wb"),
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("JupyterLab did not start:\n"
                                       + (tmp_path / "server.log").read_text()[-3000:])
                time.sleep(0.3)
        yield f"{url}{FRONT_ENDS[app]}?token={token}&reset", url, token
    finally:
        # Shutting the server down shuts its kernels down, and with them their clusters.
        try:
            urllib.request.urlopen(urllib.request.Request(
                f"{url}/api/shutdown?token={token}", method="POST"), timeout=5)
            server.wait(timeout=20)
        except Exception:
            pass
        if server.poll() is None:
            os.killpg(server.pid, 9)
            server.wait()


# Reads every node of the task graph and the CPU meter's fill; run in the page every 50 ms.
SAMPLE = """() => {
  const nodes = [...document.querySelectorAll('.rl-graph .rl-node')].map(
    g => [g.dataset.label, g.dataset.state]);
  const cpu = document.querySelector('.rl-meter-cpu .progress-bar');
  return {nodes, cpu: cpu ? parseFloat(cpu.style.width || '0') : null};
}"""


def _kernel_idle(url: str, token: str) -> bool:
    import json
    with urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=5) as reply:
        kernels = json.load(reply)
    return bool(kernels) and all(k["execution_state"] == "idle" for k in kernels)


def test_widgets_live_in_the_browser(lab, request):
    notebook_url, url, token = lab
    front_end = request.node.callspec.params["lab"]
    shots = SCREENSHOTS / front_end
    shots.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(notebook_url, timeout=90_000)
            page.locator(".jp-CodeCell").first.wait_for(timeout=90_000)
            deadline = time.monotonic() + 90
            while not _kernel_idle(url, token):  # the kernel started and is ready
                assert time.monotonic() < deadline, "the kernel never became idle"
                time.sleep(0.2)
            page.get_by_role("menuitem", name=_exact("Run")).click()
            page.get_by_role("menuitem", name=_exact("Run All Cells")).click()

            # Sample while the cells run: states are seen live, not only at the end.
            seen: dict[str, set] = {}
            running_shot = False
            cpu_seen = set()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                sample = page.evaluate(SAMPLE)
                for label, state in sample["nodes"]:
                    seen.setdefault(label, set()).add(state)
                if sample["cpu"] is not None:
                    cpu_seen.add(sample["cpu"])
                if page.locator(".jp-OutputArea-output img").count() > 0:  # the timeline
                    break
                if "running" in seen.get("load", ()) and not running_shot:
                    running_shot = True
                    page.screenshot(path=shots / "running.png", full_page=True)
                time.sleep(0.05)
            page.screenshot(path=shots / "finished.png", full_page=True)

            assert {"running", "finished"} <= seen.get("load", set()), seen
            assert {"waiting", "finished"} <= seen.get("combine", set()), seen
            assert "failed" in seen.get("validate", set()), seen
            assert seen.get("Counter") is None  # no actor in this notebook: none drawn
            assert max(cpu_seen, default=0) > 0 and min(cpu_seen, default=1) == 0, cpu_seen
            outputs = page.locator(".jp-OutputArea-output")
            assert outputs.filter(has_text="total: 30").count() == 1
            assert outputs.filter(has_text="(load pid=").count() >= 1  # worker output

            # The inspector: click the failed node, read its error.
            page.locator(".rl-graph .rl-node[data-label='validate']").click()
            details = page.locator(".rl-inspector-details")
            details.filter(has_text="is not a multiple of 7").wait_for(timeout=10_000)
            text = details.inner_text()
            assert "ValueError" in text and "validate" in text and "failed" in text
            assert "Worker pid" in text and "Ran for" in text
            page.locator(".rl-explorer").screenshot(path=shots / "inspector.png")
            page.screenshot(path=shots / "inspected.png", full_page=True)
            page.locator(".rl-meters").screenshot(path=shots / "meters.png")
        finally:
            browser.close()


def _exact(text: str):
    import re
    return re.compile(f"^{re.escape(text)}$")
