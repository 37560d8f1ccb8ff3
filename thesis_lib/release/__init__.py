"""Releases of a study: ``thesis release`` packs the runs, splits (as hashes), notebooks,
tables, figures, environment, model card, citation and manifest of a results folder;
``thesis verify`` proves a copy of it and of the dataset reproduce what it records.

It sits above ``figures`` and ``experiments`` (it uses both tables and run records) and below
``cli``; see ``docs/release.md``.
"""

from thesis_lib.release.build import ReleaseOptions, make_release
from thesis_lib.release.verify import Check, verify_release

__all__ = ["Check", "ReleaseOptions", "make_release", "verify_release"]
