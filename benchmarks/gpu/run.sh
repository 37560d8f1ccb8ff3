#!/usr/bin/env bash
# The GPU benchmark in one command (benchmarks/gpu/bench.py; results in docs/gpu.md).
#
#   bash benchmarks/gpu/run.sh                  # on a GPU machine, from any folder
#   PYTHON=.venv/bin/python bash benchmarks/gpu/run.sh --tiny --output /tmp/gpu_tiny.json
#
# Keras and the packages it needs beyond JAX (namex, optree) are installed first from wheels
# in .whl/ at the project's root, when Python cannot import Keras: a machine without a package
# index gets them that way. Arguments are passed on to bench.py; the JSON goes to $OUT when
# that is set, else to results/benchmarks/gpu_bench.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c "import keras" 2>/dev/null; then
    if ! compgen -G ".whl/*.whl" >/dev/null; then
        echo "Keras is not installed and .whl/ holds no wheels" >&2
        exit 1
    fi
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/gpu_bench_site .whl/*.whl
    export PYTHONPATH="/tmp/gpu_bench_site${PYTHONPATH:+:$PYTHONPATH}"
fi

export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
"$PYTHON" -c "import jax, keras; print('keras', keras.__version__, 'jax', jax.__version__, jax.devices())"
exec "$PYTHON" benchmarks/gpu/bench.py "$@"
