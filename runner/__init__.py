"""Headless runner: validate and execute ComfyUI API-format workflows without ComfyUI.

``run_prompt`` takes the node mapping to run with; ``cli.main`` adds this pack's nodes to the core
LoadImage / SaveImage / PreviewImage / ImageScaleBy stand-ins from ``core_nodes`` and the LoadVideo /
GetVideoComponents / CreateVideo / SaveVideo stand-ins from ``core_video``.
"""
from .core_nodes import NODE_CLASS_MAPPINGS as _IMAGE_NODES
from .core_video import NODE_CLASS_MAPPINGS as _VIDEO_NODES
from .execute import ExecutionError, ValidationError, apply_overrides, run_prompt, validate_prompt

CORE_NODE_CLASS_MAPPINGS = {**_IMAGE_NODES, **_VIDEO_NODES}

__all__ = [
    "CORE_NODE_CLASS_MAPPINGS",
    "ExecutionError",
    "ValidationError",
    "apply_overrides",
    "run_prompt",
    "validate_prompt",
]
