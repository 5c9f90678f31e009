"""Scaffolding copied by `ppdw add-dataset` (files under `dataset/`)."""
