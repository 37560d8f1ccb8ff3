"""Settings shared by the whole test suite."""

import os

# Quiet TensorFlow's start-up logs, draw figures off-screen, and default to the TensorFlow
# backend (tests of the JAX backend start their own subprocess with KERAS_BACKEND=jax).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
