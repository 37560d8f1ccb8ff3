"""How `make test` spreads the suite over pytest-xdist workers (``--dist loadfile``): each test
file goes to one worker, and the notebooks all go to one worker together and run in the order
01-07, because 05-07 analyse the runs that 03 and 04 train (``notebooks/conftest.py``)."""

from xdist.scheduler import LoadFileScheduling

NOTEBOOKS_SCOPE = "notebooks"


class NotebooksTogether(LoadFileScheduling):
    """``--dist loadfile``, with every notebook cell in one scope (kept in collection order)."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return NOTEBOOKS_SCOPE if path.endswith(".ipynb") else path


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadfile":
        return NotebooksTogether(config, log)
    return None
