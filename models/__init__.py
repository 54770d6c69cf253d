"""Model registry, model files and runtimes, and the backends that run each model."""
