"""TensorFlow's start-up lines stay out of notebooks and terminals; anything else gets through."""

import os
import subprocess
import sys

from thesis_lib import quiet_tensorflow

# What TensorFlow 2.21 writes to descriptor 2 on a CPU-only machine, before and at its first op.
STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796473931.422127   30790 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796473931.422562   30790 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796473931.497138   30790 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 AVX_VNNI FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796473937.948516   30790 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""  # noqa: E501


def test_the_start_up_notices_are_dropped_and_other_lines_kept():
    assert quiet_tensorflow.kept_lines(STARTUP) == []
    problem = "E0000 00:00:1.0  1 op_kernel.cc:1] Could not open libtpu.so: permission denied"
    assert quiet_tensorflow.kept_lines(STARTUP + problem + "\n") == [problem]


def test_a_gpu_that_tensorflow_cannot_use_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(quiet_tensorflow, "NVIDIA_DRIVER", tmp_path / "absent")
    assert quiet_tensorflow.gpu_unusable_sentence(STARTUP) is None  # no driver: expected
    driver = tmp_path / "version"
    driver.write_text("NVRM version: 550\n")
    monkeypatch.setattr(quiet_tensorflow, "NVIDIA_DRIVER", driver)
    sentence = quiet_tensorflow.gpu_unusable_sentence(STARTUP)
    assert sentence.startswith("TensorFlow cannot use this machine's GPU")
    assert quiet_tensorflow.gpu_unusable_sentence("nothing about CUDA") is None


def test_importing_the_library_then_keras_writes_nothing_to_stderr():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import thesis_lib, keras; print(float(keras.ops.sum(keras.ops.ones(3))))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3.0\n"
    # A machine with an NVIDIA driver may add the one sentence; never a notice.
    sentence = quiet_tensorflow.gpu_unusable_sentence(
        "failed call to cuInit" if quiet_tensorflow.NVIDIA_DRIVER.exists() else "")
    assert done.stderr.splitlines() in ([], [sentence])
