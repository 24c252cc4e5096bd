"""Serve the dashboard on a free local port and drive it with headless Chromium (tests, benchmarks)."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
#: Reads every Bokeh model of the page: plot titles, the median curve, the observed points'
#: times and error bars, and the marker of the current star among the real ones.
READ_PLOTS = """() => {
  const out = {titles: [], median: null, observed: null, marker: null};
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models) {
      if (m.type === 'Title' && m.text) out.titles.push(m.text);
      if (m.data && m.data.median) out.median = Array.from(m.data.median);
      if (m.data && m.data.mag_err)
        out.observed = {time: Array.from(m.data.time), mag_err: Array.from(m.data.mag_err)};
      if (m.name === 'current star') out.marker = {x: Array.from(m.data.x), y: Array.from(m.data.y)};
    }
  return out;
}"""


@dataclasses.dataclass
class Server:
    url: str
    process: subprocess.Popen
    first_page_s: float  # from the port opening to the first page's answer

    def rss_mb(self) -> float:
        """Resident memory of the server process."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        return process_cpu_seconds(self.process.pid)


def process_cpu_seconds(pid: int | str) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chromium_cpu_seconds() -> float:
    """CPU time used so far by every running Chromium process (browser, renderers, GPU)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and "chrom" in (entry / "comm").read_text():
                total += process_cpu_seconds(entry.name)
        except OSError:  # the process ended meanwhile
            continue
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(model_folder: str | os.PathLike | None, log_path: Path, timeout: float = 90.0,
               app: str = "dashboard/app.py") -> Iterator[Server]:
    """``panel serve <app> --warm`` (the dashboard by default) on a free port; yields the running
    server; stops it afterwards. ``--warm`` builds one page before the port opens, so the model
    is loaded when the first visitor arrives."""
    port = free_port()
    env = dict(os.environ)
    if model_folder is not None:
        env["PELSVAE_MODEL"] = str(model_folder)
    command = [sys.executable, "-m", "panel", "serve", app, "--warm", "--port", str(port),
               "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/{Path(app).stem}"
        try:
            deadline = time.monotonic() + timeout
            while True:  # wait for the port, then for the first page (which loads the model)
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the dashboard did not start; see {log_path}")
                    time.sleep(0.3)
            up = time.monotonic()
            with urllib.request.urlopen(url, timeout=timeout) as response:
                if response.status != 200:
                    raise RuntimeError(f"the dashboard answered {response.status}; see {log_path}")
            yield Server(url, server, time.monotonic() - up)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
