"""Config models and loader."""
