"""Face Pipeline for ComfyUI: detect, align, swap, enhance, embed and matte faces.

ComfyUI imports this folder as a package and reads the two mappings below.
"""
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
