"""The fetch Lambda's import closure: the standard library, the AWS SDK and ppdw only.

The Lambda runtime provides nothing else; import-linter checks the static imports, this
checks what importing the handler's module really loads.
"""

from __future__ import annotations

import subprocess
import sys

#: The Lambda runtime's SDK and what it depends on (botocore takes certifi's CA bundle
#: when it is installed, as here, and its own otherwise).
SDK = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "certifi"}
#: What this virtual environment's site hooks load into every process.
SITE_HOOKS = ("_distutils_hack", "__editable__")
PROBE = "import sys, ppdw.runtime.fetch; print('\\n'.join(sorted(sys.modules)))"


def test_importing_the_fetch_handler_loads_only_the_stdlib_the_sdk_and_ppdw() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    loaded = {name.partition(".")[0] for name in done.stdout.split()}
    foreign = loaded - set(sys.stdlib_module_names) - SDK - {"ppdw", "__main__"}
    assert sorted(n for n in foreign if not n.startswith(SITE_HOOKS)) == []
    assert "ppdw" in loaded
