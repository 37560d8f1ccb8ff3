"""How long the two test tiers take, from a fresh clone, as a developer and CI run them.

Clones the committed HEAD of this checkout into a new folder, then runs there, one after the
other, the Makefile's own targets: ``make install`` (the virtual environment, from the package
registries), ``make test-fast`` (the fast tier) and ``make test`` (the full tier, what CI runs).
For each it keeps the wall time, the CPU time of everything it started and waited for (the
test workers, notebook kernels, subprocesses; not the SLURM jobs, which the cluster's daemons
run) and pytest's last line. The suite is bound by the CPU of the machine (docs/testing.md), so
the record names the machine: CPU model, cores, load before each tier.

Appends one record to ``results/benchmarks/test_tiers.json`` (a list: one entry per machine and
commit measured). Set the variables CI sets (THESIS_REQUIRE_SLURM and friends, see ``.ci/run``)
to time the same tests CI runs.

    python benchmarks/test_tiers.py [--folder /tmp/tiers] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
OUT = PROJECT / "results" / "benchmarks" / "test_tiers.json"
TARGETS = ("install", "test-fast", "test")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_target(clone: Path, target: str) -> dict:
    """``make <target>`` in ``clone``: wall and CPU seconds, exit status, pytest's summary."""
    load = os.getloadavg()[0]
    cpu, wall = children_cpu(), time.perf_counter()
    done = subprocess.run(["make", target], cwd=clone, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall, children_cpu() - cpu
    summary = next((line.strip("= ") for line in reversed(done.stdout.splitlines())
                    if re.search(r"\d+ (passed|failed)", line)), None)
    print(f"make {target}: {wall / 60:.1f} min wall, {cpu / 60:.1f} CPU-min, "
          f"status {done.returncode}" + (f": {summary}" if summary else ""), flush=True)
    if done.returncode:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
    return {"target": target, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "status": done.returncode, "pytest": summary, "load_before": round(load, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="where to clone (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="thesis-tiers-"))
    clone = folder / "clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, check=True,
                            capture_output=True, text=True).stdout.strip()
    record = {
        "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(), "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "ci_variables": sorted(name for name in os.environ if name.startswith("THESIS_REQUIRE")),
        "tiers": [],
    }
    try:
        for target in TARGETS:
            record["tiers"].append(run_target(clone, target))
            if record["tiers"][-1]["status"]:
                break
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    records = json.loads(OUT.read_text()) if OUT.is_file() else []
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps([*records, record], indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
