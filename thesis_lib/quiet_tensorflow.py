"""TensorFlow's start-up lines, kept out of executed notebooks, logs and terminals.

While it loads, TensorFlow's C++ side writes straight to file descriptor 2: absl's "All log
messages before absl::InitializeLog() is called ...", oneDNN and CPU-feature notices, "Could
not find cuda drivers", and, when it first looks for a GPU on a machine without one, the error
"failed call to cuInit". They come before ``TF_CPP_MIN_LOG_LEVEL`` is read, so a Jupyter kernel
copies them into the first cell that imports the library. ``install()`` (called when
``thesis_lib`` is imported) catches descriptor 2 while TensorFlow loads and finds its devices,
drops the known notices and passes every other line on, so a real problem is still seen. On a
machine with an NVIDIA driver whose GPU TensorFlow cannot use, one sentence says so.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

# The lines TensorFlow writes on every start; nothing in them asks the user to act.
NOTICE = re.compile(
    r"absl::InitializeLog\(\)|oneDNN custom operations are on|cpu_feature_guard"
    r"|To enable the following instructions:|cudart_stub\.cc|Could not find cuda drivers"
    r"|failed call to cuInit|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered|TF-TRT Warning"
)
NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")


def install() -> None:
    """Make the first ``import tensorflow`` of this process quiet (once per process)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # later INFO and WARNING lines too
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())


def kept_lines(text: str) -> list[str]:
    """The lines of TensorFlow's start-up output that are not known notices."""
    return [line for line in text.splitlines() if line.strip() and not NOTICE.search(line)]


def gpu_unusable_sentence(text: str) -> str | None:
    """One sentence when a machine with an NVIDIA driver got no GPU from TensorFlow."""
    if "failed call to cuInit" in text and NVIDIA_DRIVER.exists():
        return ("TensorFlow cannot use this machine's GPU (failed call to cuInit: check the "
                "driver and CUDA_VISIBLE_DEVICES); it runs on the CPU.")
    return None


@contextlib.contextmanager
def _descriptor_2_caught() -> Iterator[list[str]]:
    """Point descriptor 2 at a temporary file; afterwards the list holds what was written."""
    caught: list[str] = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real descriptor 2 (some embedded interpreters): catch nothing
        yield caught
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield caught
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            caught.append(sink.read().decode("utf-8", errors="replace"))


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with descriptor 2 caught; everything else is passed on."""

    def __init__(self, loader) -> None:
        self._loader = loader

    def __getattr__(self, name):  # get_resource_reader, is_package, get_data, ...
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            with _descriptor_2_caught() as caught:
                self._loader.exec_module(module)
                module.config.list_physical_devices()  # the cuInit line comes here
        finally:
            _pass_on("".join(caught))


def _pass_on(text: str) -> None:
    for line in kept_lines(text):
        print(line, file=sys.stderr)
    sentence = gpu_unusable_sentence(text)
    if sentence:
        print(sentence, file=sys.stderr)


class _QuietFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # one import only; later lookups go the usual way
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec
