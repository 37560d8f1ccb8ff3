"""How the suite is spread over pytest-xdist workers with ``--dist loadfile`` (``make test``,
``make test-fast``): one file at a time per worker, except that

- the notebooks all go to one worker together and run in the order 01-07, because 05-07
  analyse the runs that 03 and 04 train (``notebooks/conftest.py``);
- the files that share an expensive session fixture go to one worker together, so that it is
  made once;
- the longest units start first, so that no worker is left with one of them at the end while
  the other has nothing more to do.
"""

from xdist.scheduler import LoadFileScheduling

NOTEBOOKS_SCOPE = "notebooks"
# Files that share ``smoke_run`` (tests/conftest.py, a training) with tests/test_embedding.py.
SAME_WORKER = {
    "tests/test_predict.py": "tests/test_embedding.py",
    "tests/train/test_resume.py": "tests/test_embedding.py",
    "tests/train/test_run.py": "tests/test_embedding.py",
}
# The longest units (4 s or more on 2 cores; the notebooks about 6 minutes), longest first.
START_FIRST = (
    NOTEBOOKS_SCOPE,
    "tests/test_slurm.py",  # mostly waits for its SLURM jobs (about 4 minutes)
    "tests/test_embedding.py",  # with test_predict, test_resume and test_run
    "tests/train/test_experiments.py",
    "tests/data/test_pipeline.py",
    "tests/models/test_model_builders.py",
    "tests/train/test_failures.py",
    "tests/data/test_augment.py",
    "tests/models/test_contrastive_training.py",
    "tests/models/test_pairwise_network.py",
    "tests/models/test_model_backbones.py",
    "tests/layers/test_jax_backend.py",
    "tests/test_quiet_tensorflow.py",
    "tests/models/test_model_summary.py",
)


class Scheduling(LoadFileScheduling):
    """``--dist loadfile`` with the scopes and the order above."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        if path.endswith(".ipynb"):
            return NOTEBOOKS_SCOPE  # every cell, kept in collection order
        return SAME_WORKER.get(path, path)

    def _assign_work_unit(self, node) -> None:
        first = next((scope for scope in START_FIRST if scope in self.workqueue), None)
        if first is not None:
            self.workqueue.move_to_end(first, last=False)
        super()._assign_work_unit(node)


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadfile":
        return Scheduling(config, log)
    return None
