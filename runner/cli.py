"""Command line: run an API-format workflow JSON with this pack's nodes and the core stand-ins.

Exit codes: 0 success, 1 a node failed while executing, 2 unreadable or invalid workflow.
"""
import argparse
import json
import logging
import sys

from . import CORE_NODE_CLASS_MAPPINGS
from .execute import ExecutionError, ValidationError, run_prompt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run a ComfyUI API-format workflow without ComfyUI.")
    parser.add_argument("workflow", help="workflow JSON saved with ComfyUI's 'Export (API)'")
    parser.add_argument("--input-dir", default=".", help="folder LoadImage reads from (default: .)")
    parser.add_argument("--output-dir", default="output", help="folder SaveImage writes to (default: ./output)")
    parser.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=VALUE",
                        help="override an input, e.g. 3.threshold=0.4 (VALUE parsed as JSON when possible); repeatable")
    parser.add_argument("--quiet", action="store_true", help="no per-node progress on stderr")
    return parser


def _load_workflow(path: str) -> dict:
    """Read an API-format prompt; raise ValidationError for unreadable files and UI-format workflows."""
    try:
        with open(path, encoding="utf-8") as f:
            prompt = json.load(f)
    except (OSError, ValueError) as ex:
        raise ValidationError([f"cannot read workflow {path!r}: {ex}"]) from ex
    if isinstance(prompt, dict) and "nodes" in prompt and "links" in prompt:
        raise ValidationError([f"{path!r} is a UI-format workflow; save it with 'Export (API)' instead"])
    return prompt


def main(argv=None) -> int:
    """Run the workflow, print the written files' paths on stdout and return the exit code."""
    from .. import NODE_CLASS_MAPPINGS

    args = _parser().parse_args(argv)
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    logging.getLogger(__package__).setLevel(logging.WARNING if args.quiet else logging.INFO)
    node_mappings = {**NODE_CLASS_MAPPINGS, **CORE_NODE_CLASS_MAPPINGS}
    try:
        result = run_prompt(_load_workflow(args.workflow), node_mappings, input_dir=args.input_dir,
                            output_dir=args.output_dir, overrides=args.set)
    except ValidationError as ex:
        print(ex, file=sys.stderr)
        return 2
    except ExecutionError as ex:
        print(ex, file=sys.stderr)
        return 1
    for path in result["files"]:
        print(path)
    return 0
