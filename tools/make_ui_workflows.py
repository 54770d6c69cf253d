"""Regenerate every UI-format workflow ``workflows/NAME.json`` from ``workflows/NAME_api.json``.

Usage: python tools/make_ui_workflows.py   (tests/test_workflows.py checks they are in sync)
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from run_workflow import load_pack  # noqa: E402


def main():
    pack = load_pack()
    from face_pipeline.runner import CORE_NODE_CLASS_MAPPINGS
    from face_pipeline.runner.ui_format import api_to_ui

    mappings = {**pack.NODE_CLASS_MAPPINGS, **CORE_NODE_CLASS_MAPPINGS}
    for api in sorted((ROOT / "workflows").glob("*_api.json")):
        ui = api_to_ui(json.loads(api.read_text()), mappings)
        target = api.with_name(api.name.replace("_api.json", ".json"))
        target.write_text(json.dumps(ui, indent=1) + "\n")
        print(target.relative_to(ROOT))


if __name__ == "__main__":
    main()
