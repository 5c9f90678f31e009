"""Facts about the Python environments ppdw's code runs in on AWS, each with its source.

Pure data. The config models check a declared Glue version against `GLUE_ENVIRONMENTS`,
deploy takes the log groups from it, and the runtime replicas (`tools/replicas.py`) build
virtual environments holding exactly these modules. When AWS changes an environment,
change it here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Where the module lists come from: AWS's page "Using Python libraries with AWS Glue",
#: section "Python modules already provided in AWS Glue".
GLUE_MODULES_SOURCE = (
    "https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html"
    "#glue-modules-provided"
)
#: Where Glue 5.x jobs log: every job has real-time logging to these groups, and
#: `--enable-continuous-cloudwatch-log` (with its `/aws-glue/jobs/logs-v2` group) belongs to
#: Glue 4.0 and earlier. Source: AWS's page "Migrating AWS Glue for Spark jobs to AWS Glue
#: version 5.0", section "Logging behavior changes in AWS Glue 5.0"
#: (https://docs.aws.amazon.com/glue/latest/dg/migrating-version-50.html).
GLUE_5_LOG_GROUPS = ("/aws-glue/jobs/output", "/aws-glue/jobs/error")


@dataclass(frozen=True)
class GlueEnvironment:
    """One Glue version as a job script sees it."""

    version: str
    python: str  # major.minor of the interpreter
    spark: str
    #: `name==version` of every module Glue installs before `--additional-python-modules`.
    provided: tuple[str, ...]
    log_groups: tuple[str, ...]

    def provided_version(self, name: str) -> str | None:
        """The version Glue provides of a distribution (names compared as pip does)."""
        wanted = canonical_name(name)
        for spec in self.provided:
            module, _, version = spec.partition("==")
            if canonical_name(module) == wanted:
                return version
        return None


def canonical_name(name: str) -> str:
    """PEP 503 normalization: `typing_extensions` and `Typing-Extensions` are one name."""
    out = name.lower()
    for sep in ("_", "."):
        out = out.replace(sep, "-")
    return out


# AWS Glue version 5.1 (Spark 3.5.6, Python 3.11, Amazon Linux 2023), as listed on the
# page above.
_GLUE_51 = (
    "aiobotocore==2.25.1",
    "aiohappyeyeballs==2.6.1",
    "aiohttp==3.13.2",
    "aioitertools==0.12.0",
    "aiosignal==1.4.0",
    "appdirs==1.4.4",
    "attrs==25.4.0",
    "boto3==1.40.61",
    "botocore==1.40.61",
    "certifi==2025.10.5",
    "charset-normalizer==3.4.4",
    "choreographer==1.2.0",
    "contourpy==1.3.3",
    "cycler==0.12.1",
    "distlib==0.4.0",
    "filelock==3.20.0",
    "fonttools==4.60.1",
    "frozenlist==1.8.0",
    "fsspec==2025.10.0",
    "idna==3.11",
    "iniconfig==2.3.0",
    "jmespath==1.0.1",
    "kaleido==1.2.0",
    "kiwisolver==1.4.9",
    "logistro==2.0.1",
    "matplotlib==3.10.7",
    "multidict==6.7.0",
    "narwhals==2.10.2",
    "numpy==2.3.4",
    "orjson==3.11.4",
    "packaging==25.0",
    "pandas==2.3.3",
    "pillow==12.0.0",
    "pip==24.0",
    "platformdirs==4.5.0",
    "plotly==6.4.0",
    "pluggy==1.6.0",
    "propcache==0.4.1",
    "pyarrow==22.0.0",
    "Pygments==2.19.2",
    "pyparsing==3.2.5",
    "pytest-timeout==2.4.0",
    "pytest==8.4.2",
    "python-dateutil==2.9.0.post0",
    "pytz==2025.2",
    "requests==2.32.5",
    "s3fs==2025.10.0",
    "s3transfer==0.14.0",
    "seaborn==0.13.2",
    "setuptools==79.0.1",
    "simplejson==3.20.2",
    "six==1.17.0",
    "tenacity==9.1.2",
    "typing_extensions==4.15.0",
    "tzdata==2025.2",
    "urllib3==2.5.0",
    "uv==0.9.7",
    "virtualenv==20.35.4",
    "wrapt==1.17.3",
    "yarl==1.22.0",
)

# AWS Glue version 5.0 (Spark 3.5.4, Python 3.11, Amazon Linux 2023), same page.
_GLUE_50 = (
    "aiobotocore==2.13.1",
    "aiohappyeyeballs==2.3.5",
    "aiohttp==3.10.1",
    "aioitertools==0.11.0",
    "aiosignal==1.3.1",
    "appdirs==1.4.4",
    "attrs==24.2.0",
    "boto3==1.34.131",
    "botocore==1.34.131",
    "certifi==2024.7.4",
    "charset-normalizer==3.3.2",
    "contourpy==1.2.1",
    "cycler==0.12.1",
    "fonttools==4.53.1",
    "frozenlist==1.4.1",
    "fsspec==2024.6.1",
    "idna==2.10",
    "jmespath==0.10.0",
    "kaleido==0.2.1",
    "kiwisolver==1.4.5",
    "matplotlib==3.9.0",
    "multidict==6.0.5",
    "numpy==1.26.4",
    "packaging==24.1",
    "pandas==2.2.2",
    "pillow==10.4.0",
    "pip==23.0.1",
    "plotly==5.23.0",
    "pyarrow==17.0.0",
    "pyparsing==3.1.2",
    "python-dateutil==2.9.0.post0",
    "pytz==2024.1",
    "requests==2.32.2",
    "s3fs==2024.6.1",
    "s3transfer==0.10.2",
    "seaborn==0.13.2",
    "setuptools==59.6.0",
    "six==1.16.0",
    "tenacity==9.0.0",
    "tzdata==2024.1",
    "urllib3==1.25.10",
    "virtualenv==20.4.0",
    "wrapt==1.16.0",
    "yarl==1.9.4",
)

GLUE_ENVIRONMENTS: dict[str, GlueEnvironment] = {
    "5.1": GlueEnvironment("5.1", "3.11", "3.5.6", _GLUE_51, GLUE_5_LOG_GROUPS),
    "5.0": GlueEnvironment("5.0", "3.11", "3.5.4", _GLUE_50, GLUE_5_LOG_GROUPS),
}
DEFAULT_GLUE_VERSION = "5.1"
#: Older Glue versions and their Python (same page, "Glue Version Compatibility"): the
#: runtime needs Python 3.11 (`datetime.UTC`, `typing` features), so they are refused.
GLUE_PYTHON_BEFORE_5 = {"4.0": "3.10", "3.0": "3.7", "2.0": "3.7", "1.0": "3.6", "0.9": "2.7"}

#: Modules Glue lists that the replicas leave out, with the reason. Empty: every listed
#: module installs from PyPI for Python 3.11 at its listed version (checked when the
#: replicas were built), so the replica holds all of them.
GLUE_REPLICA_SKIPPED: dict[str, str] = {}

# ----------------------------------------------------------------------------- Lambda

#: Where the Lambda facts come from: AWS's page "Building Lambda functions with Python",
#: section "Runtime-included SDK versions". It names no version any more: the SDK "depends
#: on the runtime version and your AWS Region", and Lambda updates it.
LAMBDA_SDK_SOURCE = (
    "https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html#python-sdk-included"
)
#: The SDK the fetch replica runs with. AWS documents no exact version, so the replica
#: uses the one AWS documents for Glue 5.1 (October 2025), an SDK the current Python
#: runtimes are not older than: fetch code that needs a newer botocore fails here before
#: it fails in a Region whose runtime lags.
LAMBDA_REPLICA_SDK = ("boto3==1.40.61", "botocore==1.40.61", "s3transfer==0.14.0")
#: The interpreter of each Lambda runtime ppdw accepts (same page, "Lambda supports the
#: following Python runtimes").
LAMBDA_PYTHON = {"python3.12": "3.12", "python3.13": "3.13", "python3.14": "3.14"}
