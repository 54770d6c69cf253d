"""Command line: run an API-format workflow with this pack's nodes and the core stand-ins, or queue it
on a running ComfyUI (``--server URL``).

Exit codes: 0 success, 1 a node failed while executing, 2 unreadable or invalid workflow.
"""
import argparse
import json
import logging
import os
import sys
import types

from . import CORE_NODE_CLASS_MAPPINGS
from .execute import ExecutionError, ValidationError, apply_overrides, run_prompt

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run a ComfyUI API-format workflow without ComfyUI, "
                                                 "or queue it on a running ComfyUI (--server).")
    parser.add_argument("workflow", help="workflow JSON saved with ComfyUI's 'Export (API)'")
    parser.add_argument("--input-dir", default=".", help="folder LoadImage reads from; with --server, the "
                        "files and folders the workflow names in it are uploaded (default: .)")
    parser.add_argument("--output-dir", default="output", help="folder SaveImage writes to; with --server, "
                        "the outputs are downloaded here (default: ./output)")
    parser.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=VALUE",
                        help="override an input, e.g. 3.threshold=0.4 (VALUE parsed as JSON when possible); repeatable")
    parser.add_argument("--batch", metavar="NODE.INPUT=FOLDER",
                        help="one run per image file in FOLDER (relative to --input-dir), set as NODE.INPUT, "
                             "e.g. 2.image=frames")
    parser.add_argument("--server", metavar="URL",
                        help="queue on the ComfyUI at URL (e.g. http://127.0.0.1:8188) instead of running here")
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


def batch_overrides(batch, input_dir: str) -> list:
    """``NODE.INPUT=FOLDER`` -> one override list per image file of FOLDER (names relative to input_dir);
    ``[[]]`` (one run, no override) when ``batch`` is None."""
    if not batch:
        return [[]]
    target, has_folder, folder = batch.partition("=")
    path = os.path.join(input_dir, folder)
    if not (has_folder and "." in target and os.path.isdir(path)):
        raise ValidationError([f"--batch {batch!r}: expected NODE.INPUT=FOLDER with FOLDER a folder in {input_dir!r}"])
    names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_EXTENSIONS)
                   and os.path.isfile(os.path.join(path, n)))
    if not names:
        raise ValidationError([f"--batch {batch!r}: no image files in {path!r}"])
    return [[f"{target}={json.dumps(os.path.normpath(os.path.join(folder, n)).replace(os.sep, '/'))}"]
            for n in names]


def _run_here(prompt, args, runs) -> int:
    from .. import NODE_CLASS_MAPPINGS

    node_mappings = {**NODE_CLASS_MAPPINGS, **CORE_NODE_CLASS_MAPPINGS}
    code = 0
    for extra in runs:
        try:
            result = run_prompt(prompt, node_mappings, input_dir=args.input_dir,
                                output_dir=args.output_dir, overrides=[*args.set, *extra])
        except ValidationError as ex:
            print(ex, file=sys.stderr)
            return 2
        except ExecutionError as ex:
            print(ex, file=sys.stderr)
            code = 1
            continue
        for path in result["files"]:
            print(path)
    return code


def _uploads(prompt: dict, input_dir: str) -> list:
    """(local path, subfolder) for every file the prompt's string inputs name under ``input_dir``,
    and for every file inside a folder they name (a gallery folder, say)."""
    found = []
    root = os.path.abspath(input_dir)
    for node in prompt.values():
        for value in node.get("inputs", {}).values():
            if not isinstance(value, str) or not value or os.path.isabs(value):
                continue
            path = os.path.abspath(os.path.join(root, value))
            if not path.startswith(root + os.sep):
                continue
            if os.path.isfile(path):
                found.append(path)
            elif os.path.isdir(path):
                found += [os.path.join(d, n) for d, _, names in os.walk(path) for n in sorted(names)]
    return [(p, os.path.relpath(os.path.dirname(p), root).replace(os.sep, "/").strip(".")) for p in dict.fromkeys(found)]


def _remote_nodes(info: dict) -> dict:
    """Stand-ins with INPUT_TYPES() for the server's node classes, for apply_overrides' name check."""
    return {name: types.SimpleNamespace(INPUT_TYPES=lambda spec=spec: spec.get("input", {}))
            for name, spec in info.items()}


def _run_on_server(prompt, args, runs) -> int:
    from .client import ComfyClient, PromptRejected, ServerError, error_text

    client = ComfyClient(args.server)
    try:
        info = client.object_info()
        unknown = sorted({n.get("class_type") for n in prompt.values() if n.get("class_type") not in info})
        if unknown:
            raise ValidationError([f"class_type {t!r} not found on {args.server}; is the custom node installed?"
                                   for t in unknown])
        prompts = [apply_overrides(prompt, [*args.set, *extra], _remote_nodes(info)) for extra in runs]
        uploads = {up for p in prompts for up in _uploads(p, args.input_dir)}
        for path, subfolder in sorted(uploads):
            client.upload(path, subfolder)
            log.info("uploaded %s", os.path.join(subfolder, os.path.basename(path)))
        client.connect()
        queued = {client.queue(p): i for i, p in enumerate(prompts, 1)}

        def show(message):
            data = message.get("data") or {}
            if data.get("prompt_id") not in queued:
                return
            where = f"[{queued[data['prompt_id']]}/{len(prompts)}]"
            if message["type"] == "executing" and data.get("node"):
                node = data["node"]
                log.info("%s node %s (%s)", where, node, prompts[queued[data["prompt_id"]] - 1]
                         .get(node, {}).get("class_type"))
            elif message["type"] == "progress":
                log.info("%s node %s: %s/%s", where, data.get("node"), data.get("value"), data.get("max"))

        ended = client.wait(queued, show)
        code = 0
        for prompt_id in queued:
            message = ended[prompt_id]
            if message["type"] != "execution_success":
                print(error_text(message), file=sys.stderr)
                code = 1
                continue
            for node_output in client.history(prompt_id).get("outputs", {}).values():
                for items in node_output.values():
                    for item in items if isinstance(items, list) else []:
                        if isinstance(item, dict) and "filename" in item:
                            print(client.download(item, args.output_dir))
        return code
    except (ValidationError, PromptRejected) as ex:
        print(ex, file=sys.stderr)
        return 2
    except ServerError as ex:
        print(ex, file=sys.stderr)
        return 1
    finally:
        client.close()


def main(argv=None) -> int:
    """Run (or queue) the workflow, print the written (downloaded) files' paths on stdout and return
    the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    logging.getLogger(__package__).setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        prompt = _load_workflow(args.workflow)
        runs = batch_overrides(args.batch, args.input_dir)
    except ValidationError as ex:
        print(ex, file=sys.stderr)
        return 2
    return _run_on_server(prompt, args, runs) if args.server else _run_here(prompt, args, runs)
