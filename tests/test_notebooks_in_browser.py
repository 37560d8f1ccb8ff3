"""The committed notebooks opened as a reader opens them: JupyterLab in a real (headless)
Chromium. Each figure a notebook holds must be on the page as a decoded image.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them and sets
``THESIS_REQUIRE_BROWSER=1``, which turns the skip into a failure)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def jupyterlab(folder: Path, state: Path):
    """A JupyterLab server on ``folder`` (no token, local only, its settings and log in
    ``state``); yields its address."""
    port = free_port()
    state.mkdir(exist_ok=True)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
           "JUPYTER_RUNTIME_DIR": str(state / "runtime")}
    log = state / "jupyterlab.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
         "--allow-root", f"--ServerApp.root_dir={folder}"],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()[-2000:]
            try:
                urllib.request.urlopen(f"{address}/lab", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer in 120 s"
                time.sleep(0.5)
        yield address
    finally:
        server.terminate()
        server.wait(timeout=30)


def chromium(width: int = 1400, height: int = 4000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def rendered_images(driver, address: str, notebook: str, expected: int, timeout: float = 90):
    """Open ``notebook`` in JupyterLab and wait until ``expected`` output images are decoded;
    returns their natural sizes."""
    driver.get(f"{address}/lab/tree/{notebook}")
    # The images of the notebook on show (not of other open tabs).
    script = ("return Array.from(document.querySelectorAll("
              "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img'))"
              ".filter(img => img.complete && img.naturalWidth > 0)"
              ".map(img => [img.naturalWidth, img.naturalHeight]);")
    deadline = time.monotonic() + timeout
    while True:
        sizes = driver.execute_script(script)
        if len(sizes) >= expected or time.monotonic() > deadline:
            return sizes
        time.sleep(1)


def committed_images(path: Path) -> int:
    notebook = nbformat.read(path, as_version=4)
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells
               if cell.cell_type == "code" for output in cell.outputs)


def test_notebook_06_shows_every_figure_in_jupyterlab(tmp_path):
    if not (BROWSER and DRIVER):
        if os.environ.get("THESIS_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromedriver are required (THESIS_REQUIRE_BROWSER is set)")
        pytest.skip("no chromium/chromedriver (Debian: apt-get install chromium chromium-driver)")
    pytest.importorskip("selenium")
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy2(NOTEBOOKS / "06_figures.ipynb", folder)
    expected = committed_images(folder / "06_figures.ipynb")
    assert expected >= 10  # the published figure, the RGB Grams and part 3's figures
    with jupyterlab(folder, tmp_path / "jupyter") as address:
        driver = chromium()
        try:
            sizes = rendered_images(driver, address, "06_figures.ipynb", expected)
            driver.save_screenshot(str(tmp_path / "06_figures.png"))
        finally:
            driver.quit()
    assert len(sizes) == expected, f"{len(sizes)} of {expected} figures rendered"
    assert all(width >= 300 and height >= 100 for width, height in sizes), sizes
