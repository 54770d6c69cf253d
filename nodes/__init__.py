"""ComfyUI node classes: thin adapters that convert types and call the pack's functions."""
NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
