"""Test setup: load the repository root as the package ``face_pipeline``.

ComfyUI imports a custom-node folder as a package named after the folder; the tests do the
same under a fixed name so that every module's relative imports resolve exactly as in ComfyUI.
"""
import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
TESTDATA = ROOT.parent / "shared" / "testdata"


def _load_pack(name: str = "face_pipeline"):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_load_pack()
