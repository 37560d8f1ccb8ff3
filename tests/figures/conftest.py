"""Every figure test closes its figures, so that a run of many tests keeps little memory."""

import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")
