"""Headless runner: validate and execute ComfyUI API-format workflows without ComfyUI.

``run_prompt`` takes the node mapping to run with; ``cli.main`` adds this pack's nodes to the core
LoadImage / SaveImage / PreviewImage / ImageScaleBy stand-ins from ``core_nodes``.
"""
from .core_nodes import NODE_CLASS_MAPPINGS as CORE_NODE_CLASS_MAPPINGS
from .execute import ExecutionError, ValidationError, apply_overrides, run_prompt, validate_prompt

__all__ = [
    "CORE_NODE_CLASS_MAPPINGS",
    "ExecutionError",
    "ValidationError",
    "apply_overrides",
    "run_prompt",
    "validate_prompt",
]
