"""Grids of training runs, studies, and the headless notebook pipeline.

    grids      a grid of cells (one notebook run each), run locally or on SLURM through submitit
    studies    the thesis' studies (comparison, loss, taps, activations) as grids of settings
    execute    one notebook run headlessly with papermill, its log and progress lines
    pipeline   notebooks 01-07 in order (``thesis pipeline``, ``thesis demo``)
"""
