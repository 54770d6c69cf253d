"""Batch-level operations on IMAGE tensors and FACES values: what the nodes, the headless
runner and the tests call.  Per-frame loops take a ``loop`` argument (``range`` by default;
nodes pass one that reports progress to ComfyUI and honours its Cancel button)."""
