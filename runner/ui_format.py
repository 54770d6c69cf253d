"""API-format prompts -> ComfyUI's UI (LiteGraph) workflow format, for drag-and-drop files.

Widget values follow the order of the node's ``INPUT_TYPES`` (required, then optional), as the
ComfyUI front end stores them, one per widget (an input the prompt omits gets its default);
inputs fed by links become input slots.  ``LoadImage`` stores an
extra "image" upload widget value, as in ComfyUI.  Nodes are laid out left to right by depth.
"""
from __future__ import annotations

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}


def _is_widget(spec) -> bool:
    kind = spec[0]
    return isinstance(kind, list) or kind in WIDGET_TYPES


def _default(spec):
    """A widget's default: its declared one, else the first choice or the type's zero value."""
    options = spec[1] if len(spec) > 1 else {}
    if "default" in options:
        return options["default"]
    if isinstance(spec[0], list):
        return spec[0][0] if spec[0] else ""
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}[spec[0]]


def _is_link(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _depths(prompt: dict) -> dict[str, int]:
    depth: dict[str, int] = {}

    def visit(node_id):
        if node_id not in depth:
            links = [v[0] for v in prompt[node_id]["inputs"].values() if _is_link(v)]
            depth[node_id] = 1 + max((visit(str(src)) for src in links), default=-1)
        return depth[node_id]

    for node_id in prompt:
        visit(node_id)
    return depth


def api_to_ui(prompt: dict, node_mappings: dict) -> dict:
    """The UI-format workflow for an API-format ``prompt`` (``{id: {class_type, inputs}}``)."""
    depth = _depths(prompt)
    column_rows: dict[int, int] = {}
    nodes, links = [], []
    out_links: dict[tuple[str, int], list[int]] = {}
    for order, node_id in enumerate(sorted(prompt, key=lambda k: (depth[k], int(k)))):
        entry = prompt[node_id]
        cls = node_mappings[entry["class_type"]]
        types = cls.INPUT_TYPES()
        specs = {**types.get("required", {}), **types.get("optional", {})}
        inputs, widgets = [], []
        for name, spec in specs.items():
            value = entry["inputs"].get(name)
            if _is_link(value):
                links.append([len(links) + 1, int(value[0]), value[1], int(node_id), len(inputs),
                              None])
                out_links.setdefault((value[0], value[1]), []).append(len(links))
                inputs.append({"name": name, "type": spec[0] if isinstance(spec[0], str) else "COMBO",
                               "link": len(links), **({"widget": {"name": name}} if _is_widget(spec) else {})})
            elif _is_widget(spec):
                # The frontend assigns widget values by position: an omitted optional widget
                # must still take its slot (its default), or every later value shifts.
                widgets.append(value if name in entry["inputs"] else _default(spec))
            elif not _is_widget(spec) and name in types.get("required", {}):
                inputs.append({"name": name, "type": spec[0], "link": None})
        if entry["class_type"] == "LoadImage":
            widgets.append("image")
        row = column_rows.get(depth[node_id], 0)
        column_rows[depth[node_id]] = row + 1
        nodes.append({
            "id": int(node_id), "type": entry["class_type"],
            "pos": [40 + 380 * depth[node_id], 40 + 360 * row], "size": [340, 300],
            "flags": {}, "order": order, "mode": 0, "inputs": inputs,
            "outputs": [{"name": name, "type": kind, "links": None, "slot_index": slot}
                        for slot, (kind, name) in enumerate(zip(cls.RETURN_TYPES, getattr(
                            cls, "RETURN_NAMES", cls.RETURN_TYPES)))],
            "properties": {"Node name for S&R": entry["class_type"]},
            "widgets_values": widgets,
            **({"title": entry["_meta"]["title"]} if "_meta" in entry else {}),
        })
    by_id = {n["id"]: n for n in nodes}
    for link in links:
        output = by_id[link[1]]["outputs"][link[2]]
        link[5] = output["type"]
        output["links"] = out_links[(str(link[1]), link[2])]
    return {"last_node_id": max(by_id), "last_link_id": len(links), "nodes": nodes,
            "links": links, "groups": [], "config": {}, "extra": {}, "version": 0.4}
