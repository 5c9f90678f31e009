"""The code's layering and acyclic imports, as import-linter contracts in pyproject.toml, hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_imports_itself_back() -> None:
    """No import cycle between any two modules of ppdw (a package's `__init__` included,
    which the sibling contract does not see), deferred imports counted."""
    import grimp

    graph = grimp.build_graph("ppdw")
    cycles = [
        graph.find_shortest_chain(imported, module)
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(imported, module)
    ]
    assert cycles == []
