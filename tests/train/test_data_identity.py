"""A run's identity covers its data, and training uses the data the audit cleaned."""

import shutil
import threading

import pandas as pd
import pytest
from PIL import Image

from thesis_lib import files
from thesis_lib.config.training import make_config
from thesis_lib.data import audit, discovery
from thesis_lib.training import records, run_training
from thesis_lib.training.fingerprint import data_fingerprint, reusing_scans
from thesis_lib.training.run import prepare_frames


def copy_dataset(source, target):
    shutil.copytree(source, target)
    return target


def test_the_fingerprint_follows_the_images_not_the_folder(tiny_dataset, tmp_path):
    first = copy_dataset(tiny_dataset, tmp_path / "a")
    second = copy_dataset(tiny_dataset, tmp_path / "elsewhere" / "b")
    values = dict(data_dir=str(first))
    fingerprint = data_fingerprint(make_config("smoke", **values))
    assert data_fingerprint(make_config("smoke", data_dir=str(second))).value == fingerprint.value
    assert fingerprint.images == 20

    relabelled = second / "other" / "moved.jpg"
    shutil.move(next((second / "sadness").glob("*.jpg")), relabelled)
    assert data_fingerprint(make_config("smoke", data_dir=str(second))).value != fingerprint.value

    split = tmp_path / "split.csv"
    split.write_text("relpath,label,split\n")
    with_split = data_fingerprint(make_config("smoke", split_file=str(split), **values))
    split.write_text("relpath,label,split\nx.jpg,sadness,train\n")
    changed = data_fingerprint(make_config("smoke", split_file=str(split), **values))
    assert len({fingerprint.value, with_split.value, changed.value}) == 3


def test_a_run_prepares_the_scan_its_fingerprint_was_made_from(tiny_dataset, tmp_path,
                                                              monkeypatch):
    config = make_config("smoke", data_dir=str(copy_dataset(tiny_dataset, tmp_path / "data")))
    scans = []
    scan_entries = discovery.scan_entries
    monkeypatch.setattr(discovery, "scan_entries",
                        lambda *args, **kwargs: scans.append(1) or scan_entries(*args, **kwargs))
    fingerprint = data_fingerprint(config)
    (tmp_path / "run").mkdir()
    class_names, frames = prepare_frames(config, tmp_path / "run", fingerprint.scanned)
    assert len(scans) == 1
    assert sum(len(frame) for frame in frames.values()) == fingerprint.images == 20
    prepare_frames(config, tmp_path / "other", None)  # without it: scanned again
    assert len(scans) == 2


def test_a_grid_planning_its_cells_scans_each_dataset_once(tiny_dataset, tmp_path, monkeypatch):
    data = copy_dataset(tiny_dataset, tmp_path / "data")
    scans = []
    scan_entries = discovery.scan_entries
    monkeypatch.setattr(discovery, "scan_entries",
                        lambda *args, **kwargs: scans.append(1) or scan_entries(*args, **kwargs))
    configs = [make_config("smoke", data_dir=str(data), seed=seed) for seed in (0, 1, 2)]
    with reusing_scans():
        planned = [data_fingerprint(config) for config in configs]
    assert len(scans) == 1 and len({fingerprint.value for fingerprint in planned}) == 1
    other = make_config("smoke", data_dir=str(data), min_side=16)  # another scan's result
    with reusing_scans():
        data_fingerprint(other)
        data_fingerprint(configs[0])
    assert len(scans) == 3
    # Outside the block every fingerprint scans: a file added since is noticed.
    shutil.copy(next((data / "other").glob("*.jpg")), data / "other" / "added.jpg")
    assert data_fingerprint(configs[0]).images == planned[0].images + 1
    # Grids planning in threads side by side (as a SLURM grid's background thread beside a
    # status check), entering and leaving interleaved, leave nothing reused behind.
    steps = [threading.Event() for _ in range(4)]

    def plan(enter_after, entered, leave_after, left):
        if enter_after is not None:
            steps[enter_after].wait()
        with reusing_scans():
            data_fingerprint(configs[0])
            steps[entered].set()
            steps[leave_after].wait()
        steps[left].set()

    first = threading.Thread(target=plan, args=(None, 0, 1, 2))
    second = threading.Thread(target=plan, args=(0, 1, 2, 3))
    for thread in (first, second):
        thread.start()
    for thread in (first, second):
        thread.join()
    shutil.copy(data / "other" / "added.jpg", data / "other" / "added_too.jpg")
    assert data_fingerprint(configs[0]).images == planned[0].images + 2


@pytest.mark.slow
def test_an_added_image_trains_a_new_run_instead_of_skipping(tiny_dataset, tiny_values,
                                                             tmp_path):
    data = copy_dataset(tiny_dataset, tmp_path / "data")
    values = tiny_values(data, tmp_path / "results", epochs=1)
    first = run_training(make_config("smoke", **values))
    assert run_training(make_config("smoke", **values)) == first  # unchanged: skipped

    Image.open(next((data / "other").glob("*.jpg"))).rotate(90).save(data / "other" / "new.jpg")
    second = run_training(make_config("smoke", **values))
    assert second != first and records.read_status(second)["state"] == "finished"
    recorded = files.read_json(second / "config.json")["data_fingerprint"]
    assert recorded["images"] == 21
    assert files.read_json(first / "config.json")["data_fingerprint"]["images"] == 20


@pytest.mark.slow  # a whole training path; the fast tier tests its parts
def test_no_test_image_has_a_copy_in_training(tiny_dataset, tiny_values, tmp_path,
                                              monkeypatch):
    data = copy_dataset(tiny_dataset, tmp_path / "data")
    scans = []  # a run scans its dataset once: the fingerprint's scan is the one it prepares
    scan_entries = discovery.scan_entries
    monkeypatch.setattr(discovery, "scan_entries",
                        lambda *args, **kwargs: scans.append(1) or scan_entries(*args, **kwargs))
    originals = sorted((data / "sadness").glob("*.jpg"))[:3]
    # An exact copy, a re-encoded JPEG and a smaller PNG, under other names.
    shutil.copy(originals[0], data / "sadness" / "copy_exact.jpg")
    Image.open(originals[1]).save(data / "sadness" / "copy_q40.jpg", quality=40)
    image = Image.open(originals[2])
    image.resize((image.width * 3 // 4, image.height * 3 // 4)).save(
        data / "sadness" / "copy_half.png")
    planted = {"copy_exact.jpg", "copy_q40.jpg", "copy_half.png"}
    for seed in (0, 1):
        values = tiny_values(data, tmp_path / "results", epochs=1, seed=seed, deduplicate=True,
                             min_side=16)
        scans.clear()
        run_dir = run_training(make_config("smoke", **values))
        assert len(scans) == 1
        split = pd.read_csv(run_dir / "split.csv")
        used = split.assign(path=[str(data / relpath) for relpath in split["relpath"]])
        groups = audit.find_duplicates(used)
        assert groups.empty  # not a single pair of copies left among the images used
        skipped = pd.read_csv(run_dir / "skipped.csv")
        dropped = skipped[skipped["reason"] == "duplicate"]
        assert len(dropped) == 3
        duplicates = pd.read_csv(run_dir / "duplicates.csv")
        assert duplicates["group"].nunique() == 3 and duplicates["kept"].sum() == 3
        # Either the copy or its original was dropped, never both.
        kept = set(split["relpath"].str.rsplit("/", n=1).str[-1])
        assert len(kept & planted) + len(kept & {p.name for p in originals}) == 3
