"""The SparkSession the engine runs on: Glue's own, or a local one for the `local` target.

Rule: on Glue the job's session already exists (`getOrCreate` returns it, with the worker
settings deploy gave the job). Anywhere else ppdw starts `local[N]` with settings that
suit one machine: small shuffle width, no UI, UTC session time zone (Spark's timestamps
are instants; the zone only matters where Spark itself would print one), and the Python
workers run by this interpreter, so they import the same ppdw and pyarrow.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from ppdw.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The extra that brings pyspark (named in errors when it is missing).
EXTRA = "spark"
INSTALL_HINT = "install the Spark engine: pip install -e '.[spark]' (it needs Java 17)"


def pyspark_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyspark") is not None


def require_pyspark() -> None:
    if not pyspark_available():
        raise ConfigError(
            f"the spark engine needs pyspark, which is not installed (extra '{EXTRA}')",
            INSTALL_HINT,
        )


def local_settings(
    cores: int, shuffle_partitions: int, driver_memory: str | None = None
) -> dict[str, str]:
    memory = {"spark.driver.memory": driver_memory} if driver_memory else {}
    return {
        **memory,
        "spark.master": f"local[{cores}]",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(cores),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # The engine's tasks read and write through the Store: Spark keeps only shuffles
        # and cached intermediate rows on local disk.
        "spark.sql.adaptive.enabled": "false",
        "spark.python.worker.reuse": "true",
    }


def get_session(
    *,
    cores: int | None = None,
    shuffle_partitions: int | None = None,
    driver_memory: str | None = None,
) -> SparkSession:
    """The active session, or a new local one (see module docstring)."""
    require_pyspark()
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is not None:  # Glue's, or one made earlier
        return SparkSession.builder.getOrCreate()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    count = cores or min(os.cpu_count() or 2, 8)
    builder = SparkSession.builder.appName("ppdw")
    settings = local_settings(count, shuffle_partitions or 2 * count, driver_memory)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
