"""The jobs allocate from jemalloc where pyarrow has it (runtime/memory.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from ppdw.runtime import memory


@pytest.fixture(autouse=True)
def _restore_pool() -> Iterator[None]:
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_jobs_allocate_from_jemalloc() -> None:
    memory.use_jemalloc()
    assert pa.default_memory_pool().backend_name == "jemalloc"
    assert pa.array(["x"] * 1000).to_pylist()[-1] == "x"


def test_a_build_without_jemalloc_keeps_its_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    pa.set_memory_pool(pa.system_memory_pool())

    def missing() -> pa.MemoryPool:
        raise NotImplementedError("jemalloc support is not built")

    monkeypatch.setattr(pa, "jemalloc_memory_pool", missing)
    memory.use_jemalloc()
    assert pa.default_memory_pool().backend_name == "system"
