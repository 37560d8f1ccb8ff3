"""The MirroredStrategy code path, on two logical CPU devices in a fresh process (slow tier):
batches split over the replicas, batch normalisation and the run record."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from thesis_lib.training import make_config, run_training, read_status
run_dir = run_training(make_config("smoke", **json.loads(sys.argv[1])))
print(json.dumps(read_status(run_dir)))
"""


@pytest.mark.slow
def test_mirrored_strategy_trains_on_two_devices(tiny_dataset, tiny_values, tmp_path):
    values = tiny_values(tiny_dataset, tmp_path / "results", strategy="mirrored", epochs=1,
                         deterministic=False)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(values)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    status = json.loads(done.stdout.strip().splitlines()[-1])
    assert status["state"] == "finished" and status["replicas"] == 2
