"""moto's service models, read by one loader for the whole process.

moto builds a new botocore loader for every service model it reads (its responses and
its routing parse each request with the model). A new loader first lists botocore's data
folders again, hundreds of them, to find the model's latest version: 40-80 ms a service
on a 2-core machine, paid by every embedded-target command for each service it calls
(four in a run: S3, Lambda, Glue, Step Functions). One loader kept for the process lists
them once. The models are the same: moto's own loader class, with moto's extras; moto
still caches each model per service.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Make moto read its service models through one shared loader (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.core import utils
        from moto.core.loaders import create_loader

        loader = create_loader()
        reading = threading.Lock()  # the loader's caches are plain dictionaries

        def load_service_model(service_name: str, model_name: str) -> dict[str, Any]:
            with reading:
                model: dict[str, Any] = loader.load_service_model(service_name, model_name)
            return model

        utils._load_service_model = load_service_model
        _installed = True
