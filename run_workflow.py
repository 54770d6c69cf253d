"""Run an API-format workflow headlessly with this pack's nodes.

Usage: python run_workflow.py workflows/x_api.json --input-dir IN --output-dir OUT --set 2.threshold=0.4

Loads the repository root as the package ``face_pipeline`` (as tests/conftest.py does) so that the
pack's relative imports resolve as in ComfyUI, then calls ``face_pipeline.runner.cli.main``.
"""
import importlib
import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent


def load_pack(name: str = "face_pipeline"):
    """Import the repository root as the package ``name`` (once) and return it."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    pack = load_pack()
    sys.exit(importlib.import_module(f"{pack.__name__}.runner.cli").main())
