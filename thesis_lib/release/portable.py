"""What makes a release usable elsewhere: the workbench's layers as source (the only code a
released ``model.keras`` needs), the check that each model loads with
``keras.saving.load_model(path, safe_mode=True)`` in a fresh process that can import nothing
of the workbench but those layers, the executed notebooks rendered as self-contained HTML,
and the environment (every installed package's version, Python, backend, devices, commit).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from thesis_lib.errors import DataError

CODE_FOLDER = "code"
# The files of thesis_lib a saved network needs: its layers and the errors they raise.
LAYER_FILES = ("errors.py", "layers")
PORTABLE_INIT = '''"""The layers of thesis-workbench, as released with its models: import
thesis_lib.layers before keras.saving.load_model(path, safe_mode=True) (docs/release.md)."""
'''
# Imported in the fresh process they fail: the models must load without them.
FORBIDDEN_MODULES = ("pandas", "sklearn", "scipy", "matplotlib", "thesis_lib.models",
                     "thesis_lib.data", "thesis_lib.training", "thesis_lib.analysis")
LOAD_TIMEOUT_S = 600


def copy_layers(release: Path) -> Path:
    """``code/thesis_lib/``: the layer modules and ``errors.py``, with an ``__init__.py`` that
    imports nothing; returns the ``code`` folder (to put on ``PYTHONPATH``)."""
    import thesis_lib

    source = Path(thesis_lib.__file__).parent
    target = release / CODE_FOLDER / "thesis_lib"
    target.mkdir(parents=True, exist_ok=True)
    (target / "__init__.py").write_text(PORTABLE_INIT, encoding="utf-8")
    for name in LAYER_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source / name, target / name)
    return release / CODE_FOLDER


_LOAD_SCRIPT = r'''
import importlib.abc, json, sys
FORBIDDEN = tuple(sys.argv[2].split(","))
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
            raise ImportError(f"{name} is not part of the released code")
        return None
sys.meta_path.insert(0, Refuse())
import os
import numpy as np
import thesis_lib
import thesis_lib.layers  # registers the layers for deserialisation
import keras
if not os.path.abspath(thesis_lib.__file__).startswith(os.path.abspath(sys.argv[3])):
    raise SystemExit(f"thesis_lib came from {thesis_lib.__file__}, not the release")
results = {}
for path in json.loads(sys.argv[1]):
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
        shape = [1 if size is None else size for size in model.inputs[0].shape]
        output = model(np.zeros(shape, dtype="float32"), training=False)
        results[path] = {"ok": True, "output_shape": list(np.asarray(output).shape),
                         "layers_from": thesis_lib.__file__}
    except Exception as error:
        results[path] = {"ok": False, "error": f"{type(error).__name__}: {error}".splitlines()[0]}
print("RESULT " + json.dumps(results))
'''


def load_in_fresh_process(models: list[Path], code_dir: Path) -> dict[str, dict[str, Any]]:
    """Load each ``model.keras`` with ``safe_mode=True`` in one fresh Python process whose only
    workbench code is ``code_dir`` (the release's layers; importing the rest of the workbench,
    pandas, scikit-learn, scipy or matplotlib fails there), and call it on one zero image.

    Args:
        models: the model files.
        code_dir: the release's ``code`` folder.

    Returns:
        Path -> ``{"ok": True, "output_shape": [...]}`` or ``{"ok": False, "error": line}``.
    """
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME")}
    env["PYTHONPATH"] = str(code_dir)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # -s: no user site-packages; run from the code folder, so the project is not importable.
    completed = subprocess.run(
        [sys.executable, "-s", "-c", _LOAD_SCRIPT, json.dumps([str(m) for m in models]),
         ",".join(FORBIDDEN_MODULES), str(code_dir)],
        cwd=code_dir, env=env, capture_output=True, text=True, timeout=LOAD_TIMEOUT_S)
    line = next((text for text in completed.stdout.splitlines() if text.startswith("RESULT ")),
                None)
    if line is None:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return {str(model): {"ok": False, "error": f"the loading process failed: {last}"}
                for model in models}
    return json.loads(line.removeprefix("RESULT "))


def render_notebooks(release: Path) -> list[str]:
    """A self-contained HTML rendering (images embedded) beside every ``.ipynb`` of the
    release; returns the notebooks' relative paths."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(embed_images=True)
    rendered = []
    for notebook_path in sorted(release.rglob("*.ipynb")):
        try:
            notebook = nbformat.read(notebook_path, as_version=4)
        except Exception as error:  # a notebook written by something else: name it
            raise DataError(f"{notebook_path}: not a readable notebook ({error})") from None
        body, _ = exporter.from_notebook_node(notebook)
        notebook_path.with_suffix(".html").write_text(body, encoding="utf-8")
        rendered.append(notebook_path.relative_to(release).as_posix())
    return rendered


def environment() -> dict[str, Any]:
    """Python, platform, Keras backend, devices, the workbench's git commit and the exact
    version of every installed distribution."""
    from thesis_lib.training.records import environment_info

    info = environment_info()
    packages = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            packages[name] = distribution.version
    info["packages"] = dict(sorted(packages.items(), key=lambda item: item[0].lower()))
    info["python_implementation"] = platform.python_implementation()
    info.pop("host", None)  # the machine's name says nothing to a reader
    return info
