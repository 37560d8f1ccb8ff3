"""Run a Python script in a fresh interpreter on the Keras JAX backend (CPU).

A fresh process is needed because Keras picks its backend once, at import time, and the test
session itself runs on TensorFlow.
"""

import os
import subprocess
import sys

# Compiling, not running, dominates these small scripts (each weight shape compiles its own
# random initializer); XLA's cheapest optimisation level cuts the CPU time by more than half.
FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def run_on_jax(script: str, *, timeout: float) -> subprocess.CompletedProcess:
    """Run ``script`` with ``KERAS_BACKEND=jax``; fails the test with its stderr if it fails."""
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
                   "XLA_FLAGS": FAST_COMPILE}
    result = subprocess.run([sys.executable, "-c", script], env=environment,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result
