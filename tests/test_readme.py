"""The README's node reference is generated from the node classes and must be current; the
README's two commands are the ones CI runs."""
import sys

from conftest import ROOT

import face_pipeline

sys.path.insert(0, str(ROOT / "tools"))
from gen_node_reference import render  # noqa: E402


def test_node_reference_is_current():
    readme = (ROOT / "README.md").read_text()
    expected = render(readme, face_pipeline.NODE_CLASS_MAPPINGS, face_pipeline.NODE_DISPLAY_NAME_MAPPINGS)
    assert readme == expected, "run: python tools/gen_node_reference.py"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/test.sh" in readme and "bash scripts/demo.sh" in readme
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
