"""A real run killed with SIGKILL continues from its last completed epoch."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd

from thesis_lib.train import records, run_training
from thesis_lib.train.config import make_config

TRAIN_SCRIPT = """
import json, sys
from thesis_lib.train import make_config, run_training
run_training(make_config("smoke", **json.loads(sys.argv[1])))
"""


def test_killed_run_resumes_with_one_continuous_history(tiny_dataset, tiny_values, tmp_path):
    # 3 epochs; the pause after each epoch gives the test time to kill the run mid-way.
    values = tiny_values(tiny_dataset, tmp_path / "results", epochs=3, epoch_delay_s=1.0,
                         deterministic=False)
    config = make_config("smoke", **values)
    run_dir = config.runs_dir / config.run_id()
    state_file = run_dir / "checkpoint" / "state.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, "-c", TRAIN_SCRIPT, json.dumps(values)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 900  # generous: shared CI machines
        while not state_file.is_file():
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint after 900 s"
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)  # after epoch 0's checkpoint, in the pause/epoch 1
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = json.loads(state_file.read_text())["epoch"]
    assert killed_at < 2
    assert records.read_status(run_dir)["state"] == "running"  # visibly unfinished
    assert (run_dir / "RUNNING").exists()

    resumed = run_training(make_config("smoke", **{**values, "epoch_delay_s": 0.0}))

    assert resumed == run_dir
    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2]
    # The optimizer state came back with the weights: its step counter runs on.
    steps_per_epoch = history["optimizer_step"].iloc[0]
    assert history["optimizer_step"].tolist() == [steps_per_epoch * (e + 1) for e in range(3)]
    status = records.read_status(run_dir)
    assert status["state"] == "finished" and status["attempts"] == 2
    assert not (run_dir / "RUNNING").exists() and (run_dir / "metrics.json").is_file()
