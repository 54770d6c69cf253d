"""Validate and execute ComfyUI API-format prompts without ComfyUI.

An API prompt maps node ids (strings) to ``{"class_type": str, "inputs": {name: value}, "_meta": {...}}``
where a value is a widget constant or a link ``[source_node_id, output_index]``. Validation follows
ComfyUI's ``execution.validate_prompt`` / ``validate_inputs``; execution calls the FUNCTION of each node
the output nodes need once, sources before consumers, under ``torch.inference_mode()`` as ComfyUI does.
Nodes that map over lists (INPUT_IS_LIST / OUTPUT_IS_LIST) are not supported.
"""
import copy
import inspect
import json
import logging
import os
import time

import torch

from .core_nodes import FOLDERS

log = logging.getLogger(__name__)

_CONVERTERS = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


class ValidationError(ValueError):
    """The prompt is invalid. ``errors`` holds one message per problem, naming node id, class_type and input."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("Prompt failed validation:\n" + "\n".join(f"  - {e}" for e in self.errors))


class ExecutionError(RuntimeError):
    """A node failed while executing; the message names node id and class_type, the cause is chained."""


def _label(prompt, node_id) -> str:
    return f"Node {node_id} ({prompt[node_id]['class_type']})"


def _declared_inputs(spec: dict) -> dict:
    """Required and optional input specs from an INPUT_TYPES() dict, by input name."""
    return {**spec.get("required", {}), **spec.get("optional", {})}


def _types_match(received, expected) -> bool:
    """ComfyUI's non-strict link rule: equal, either side "*", or comma-separated type sets overlap."""
    if received == expected:
        return True
    if not (isinstance(received, str) and isinstance(expected, str)):
        return isinstance(received, list) and expected == "COMBO"
    got, want = ({t.strip() for t in types.split(",")} for types in (received, expected))
    return "*" in got or "*" in want or bool(got & want)


def _check_link(prompt, link, node_mappings):
    """Return (the source's RETURN_TYPE, None) for a valid ``[src_id, out_index]`` link, else (None, problem)."""
    if len(link) != 2:
        return None, f"bad linked input {link!r}, must be a length-2 list of [node_id, slot_index]"
    src, index = link
    if not isinstance(src, str) or src not in prompt:
        return None, f"linked node {src!r} does not exist"
    return_types = node_mappings[prompt[src]["class_type"]].RETURN_TYPES
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(return_types):
        return None, f"output index {index!r} out of range: {_label(prompt, src)} has {len(return_types)} outputs"
    return return_types[index], None


def _check_value(value, input_type, options: dict, range_checked: bool):
    """Convert a widget value as ComfyUI does; return (value, problem or None).

    INT/FLOAT/STRING/BOOLEAN are converted with int()/float()/str()/bool(); ``{"__value__": v}`` is
    unwrapped. When ``range_checked``, min/max and combo membership are enforced.
    """
    if isinstance(value, dict) and "__value__" in value:
        value = value["__value__"]
    convert = _CONVERTERS.get(input_type) if isinstance(input_type, str) else None
    if convert is not None:
        try:
            value = convert(value)
        except (TypeError, ValueError, OverflowError) as ex:
            return value, f"failed to convert {value!r} to a {input_type} value ({ex})"
    if not range_checked:
        return value, None
    if "min" in options and value < options["min"]:
        return value, f"value {value} smaller than min of {options['min']}"
    if "max" in options and value > options["max"]:
        return value, f"value {value} bigger than max of {options['max']}"
    choices = input_type if isinstance(input_type, list) else options.get("options") if input_type == "COMBO" else None
    if choices is not None and value not in choices:
        listed = f"(list of length {len(choices)})" if len(choices) > 20 else str(list(choices))
        return value, f"value {value!r} not in {listed}"
    return value, None


def _kwargs(prompt, node_id, cls, outputs=None, extra_pnginfo=None) -> dict:
    """Keyword arguments for a node call: declared constants, linked outputs (all None when ``outputs``
    is None, as ComfyUI passes them to VALIDATE_INPUTS) and hidden PROMPT / UNIQUE_ID / EXTRA_PNGINFO
    (one dictionary per run, shared by all nodes, as ComfyUI does for prompts queued from its UI)."""
    spec = cls.INPUT_TYPES()
    declared = _declared_inputs(spec)
    kwargs = {}
    for name, value in prompt[node_id]["inputs"].items():
        if isinstance(value, list):
            kwargs[name] = None if outputs is None else outputs[value[0]][value[1]]
        elif name in declared:
            kwargs[name] = value
    hidden = {"PROMPT": prompt, "UNIQUE_ID": node_id, "EXTRA_PNGINFO": extra_pnginfo}
    for name, kind in spec.get("hidden", {}).items():
        if kind in hidden:
            kwargs[name] = hidden[kind]
    return kwargs


def _check_inputs(prompt, node_id, node_mappings):
    """Validate one node's inputs in place (widget values get converted); return (problems, link sources)."""
    cls = node_mappings[prompt[node_id]["class_type"]]
    if getattr(cls, "INPUT_IS_LIST", False) or any(getattr(cls, "OUTPUT_IS_LIST", ())):
        raise NotImplementedError(
            f"{_label(prompt, node_id)}: INPUT_IS_LIST / OUTPUT_IS_LIST nodes are not supported by this runner"
        )
    inputs = prompt[node_id].setdefault("inputs", {})
    spec = cls.INPUT_TYPES()
    required, declared = spec.get("required", {}), _declared_inputs(spec)
    validate = getattr(cls, "VALIDATE_INPUTS", None)
    params = inspect.signature(validate).parameters if validate else {}
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    problems, sources, received_types = [], [], {}

    def problem(names, text):
        where = f" input '{names}'" if names else ""
        problems.append(f"{_label(prompt, node_id)}{where}: {text}")

    for name in [*declared, *(n for n in inputs if n not in declared)]:
        if name not in inputs:
            if name in required:
                problem(name, "required input is missing")
            continue
        input_type, *rest = declared.get(name, (None,))
        options = rest[0] if rest else {}
        value = inputs[name]
        if isinstance(value, list):
            received, text = _check_link(prompt, value, node_mappings)
            if text:
                problem(name, text)
                continue
            sources.append(value[0])
            received_types[name] = received
            if name in declared and "input_types" not in params and not _types_match(received, input_type):
                problem(name, f"return type mismatch between linked nodes: received_type({received}) "
                              f"from {_label(prompt, value[0])} mismatch input_type({input_type})")
        elif name in declared:
            inputs[name], text = _check_value(value, input_type, options, name not in params and not takes_all)
            if text:
                problem(name, text)

    if validate is not None:
        args = {k: v for k, v in _kwargs(prompt, node_id, cls).items() if takes_all or k in params}
        names = "', '".join(args)
        if "input_types" in params:
            args["input_types"] = received_types
        try:
            verdict = validate(**args)
        except Exception as ex:
            verdict = f"VALIDATE_INPUTS raised {type(ex).__name__}: {ex}"
        if verdict is not True:
            problem(names, "custom validation failed" if verdict is False else verdict)
    return problems, sources


def validate_prompt(prompt: dict, node_mappings: dict) -> list:
    """Check ``prompt`` as ComfyUI's validate_prompt does and return the execution order.

    Every node must have a known class_type and at least one class must be an OUTPUT_NODE. The nodes
    the outputs need (and only those) get their inputs checked; widget values are converted in place.
    Returns those node ids, each after the sources of its links. Raises ValidationError listing every
    problem, NotImplementedError for INPUT_IS_LIST / OUTPUT_IS_LIST nodes.
    """
    if not isinstance(prompt, dict) or not prompt:
        raise ValidationError(["prompt must be a non-empty object of {node_id: node}"])
    problems = []
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node:
            problems.append(f"Node {node_id}: has no class_type; the workflow may be corrupted or not in API format")
        elif node["class_type"] not in node_mappings:
            problems.append(f"Node {node_id} ({node['class_type']}): class_type not found; "
                            "the custom node may not be installed")
    if problems:
        raise ValidationError(problems)
    outputs = [i for i, node in prompt.items()
               if getattr(node_mappings[node["class_type"]], "OUTPUT_NODE", False) is True]
    if not outputs:
        raise ValidationError(["prompt has no outputs: none of its nodes is an OUTPUT_NODE"])

    order, done = [], set()

    def visit(node_id, path):
        if node_id in done:
            return
        if node_id in path:
            cycle = path[path.index(node_id):] + [node_id]
            chain = " -> ".join(f"{i} ({prompt[i]['class_type']})" for i in cycle)
            problems.append(f"{_label(prompt, node_id)}: dependency cycle detected: {chain}")
            return
        node_problems, sources = _check_inputs(prompt, node_id, node_mappings)
        problems.extend(node_problems)
        for src in sources:
            visit(src, path + [node_id])
        done.add(node_id)
        order.append(node_id)

    for node_id in outputs:
        visit(node_id, [])
    if problems:
        raise ValidationError(problems)
    return order


def _parse_value(text: str):
    """JSON when ``text`` parses (numbers, true/false, null, lists, objects), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def apply_overrides(prompt: dict, overrides, node_mappings=None) -> dict:
    """Return a deep copy of ``prompt`` with ``"NODE_ID.INPUT=VALUE"`` overrides applied.

    VALUE is parsed as JSON when possible, else kept as a string; a JSON list ``["4", 0]`` is a link,
    as in the API format. Raises ValidationError for malformed items, unknown node ids and, when
    ``node_mappings`` knows the node's class, input names that class does not declare.
    """
    prompt = copy.deepcopy(prompt)
    problems = []
    for item in overrides:
        target, has_value, text = item.partition("=")
        node_id, _, name = target.partition(".")
        if not (has_value and node_id and name):
            problems.append(f"override {item!r}: expected NODE_ID.INPUT=VALUE")
        elif not isinstance(prompt.get(node_id), dict):
            problems.append(f"override {item!r}: no node with id {node_id!r} (ids: {', '.join(prompt)})")
        else:
            cls = (node_mappings or {}).get(prompt[node_id].get("class_type"))
            declared = _declared_inputs(cls.INPUT_TYPES()) if cls is not None else {name: None}
            if name not in declared:
                problems.append(f"{_label(prompt, node_id)} input '{name}': override {item!r} names no input "
                                f"of this node (inputs: {', '.join(declared)})")
            prompt[node_id].setdefault("inputs", {})[name] = _parse_value(text)
    if problems:
        raise ValidationError(problems)
    return prompt


def _reports(prompt, node_id, node_mappings, outputs) -> dict:
    """``{"<id> <class_type>": text}`` for every upstream node with an output named ``report``
    (what was detected, enhanced, swapped and by which model): the provenance that the
    runner's SaveImage writes into each PNG as the text chunk ``face_pipeline_reports``."""
    found, stack, seen = {}, [node_id], set()
    while stack:
        current = stack.pop()
        for value in prompt[current]["inputs"].values():
            if isinstance(value, list) and len(value) == 2 and value[0] not in seen:
                seen.add(value[0])
                stack.append(value[0])
                cls = node_mappings[prompt[value[0]]["class_type"]]
                names = getattr(cls, "RETURN_NAMES", ())
                if "report" in names and value[0] in outputs:
                    label = f"{value[0]} {prompt[value[0]]['class_type']}"
                    found[label] = outputs[value[0]][names.index("report")]
    return dict(sorted(found.items()))


def _execute_node(prompt, node_id, node_mappings, outputs, extra_pnginfo=None):
    """Call one node's FUNCTION; return (outputs tuple, ui dict or None)."""
    cls = node_mappings[prompt[node_id]["class_type"]]
    kwargs = _kwargs(prompt, node_id, cls, outputs, extra_pnginfo)
    for name, kind in cls.INPUT_TYPES().get("hidden", {}).items():
        reports = _reports(prompt, node_id, node_mappings, outputs) if kind == "EXTRA_PNGINFO" else {}
        if reports:  # the run's shared entries (what swap nodes recorded) plus upstream reports
            kwargs[name] = {**(kwargs.get(name) or {}), "face_pipeline_reports": reports}
    try:
        returned = getattr(cls(), cls.FUNCTION)(**kwargs)
    except Exception as ex:
        raise ExecutionError(f"{_label(prompt, node_id)}: {type(ex).__name__}: {ex}") from ex
    if isinstance(returned, dict) and "expand" in returned:
        raise ExecutionError(f"{_label(prompt, node_id)}: node expansion ('expand') is not supported by this runner")
    node_ui, result = (returned.get("ui"), returned.get("result")) if isinstance(returned, dict) else (None, returned)
    if result is None:
        return (), node_ui
    if not isinstance(result, (tuple, list)) or len(result) != len(cls.RETURN_TYPES):
        raise ExecutionError(f"{_label(prompt, node_id)}: {cls.FUNCTION}() must return a tuple of "
                             f"{len(cls.RETURN_TYPES)} values {cls.RETURN_TYPES}, got {type(result).__name__}")
    return tuple(result), node_ui


def _written_files(node_ui: dict) -> list:
    """Paths of the files a ui dict reports, ComfyUI style: {"images": [{"filename", "subfolder", "type"}]}."""
    roots = {"output": FOLDERS.output_dir, "temp": FOLDERS.temp_dir}
    return [
        os.path.join(roots[item["type"]], item.get("subfolder", ""), item["filename"])
        for items in node_ui.values() if isinstance(items, list)
        for item in items if isinstance(item, dict) and item.get("type") in roots and "filename" in item
    ]


def run_prompt(prompt: dict, node_mappings: dict, *, input_dir, output_dir, overrides=None, temp_dir=None) -> dict:
    """Validate ``prompt`` (after ``overrides``), then execute the nodes its outputs need.

    ``input_dir`` / ``output_dir`` / ``temp_dir`` configure the core stand-in nodes (temp_dir None: a
    fresh system temp dir on first preview). The caller's prompt is not modified.
    Returns {"outputs": {node_id: outputs tuple}, "ui": {node_id: ui dict}, "files": [written paths]}.
    Raises ValidationError (nothing executed) or ExecutionError.
    """
    prompt = apply_overrides(prompt, overrides or [], node_mappings)
    FOLDERS.configure(str(input_dir), str(output_dir), None if temp_dir is None else str(temp_dir))
    order = validate_prompt(prompt, node_mappings)
    outputs, ui, extra_pnginfo = {}, {}, {}
    with torch.inference_mode():
        for step, node_id in enumerate(order, 1):
            start = time.perf_counter()
            outputs[node_id], node_ui = _execute_node(prompt, node_id, node_mappings, outputs,
                                                      extra_pnginfo)
            if node_ui is not None:
                ui[node_id] = node_ui
            log.info("[%d/%d] %s done in %.2fs", step, len(order), _label(prompt, node_id), time.perf_counter() - start)
    files = [path for node_ui in ui.values() for path in _written_files(node_ui)]
    return {"outputs": outputs, "ui": ui, "files": files}
