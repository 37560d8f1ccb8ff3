"""``python -m thesis_lib`` is the same as the ``thesis`` command."""

from thesis_lib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
