"""The deployed code, run in replicas of the environments AWS runs it in, equals in-process.

The stacks are deployed (`ppdw --target aws bootstrap-core`, `deploy --all`) to a moto
server. Then, for each snapshot of a dataset, as Step Functions would:

- the fetch handler from the deployed Lambda zip runs in a Python of the function's
  runtime holding the standard library and the runtime's SDK only (no pyarrow, no
  pydantic), with the function's environment variables and the AWS_REGION Lambda sets;
- the deployed bronze and silver job scripts (read from their ScriptLocation) run in a
  virtual environment holding exactly the modules the job's Glue version provides plus
  its `--additional-python-modules` installed over them, with the deployed runtime zip
  (`--extra-py-files`) on the path and `sys.argv` as Glue builds it (DefaultArguments
  merged with the run's Arguments). No AWS_REGION there: the job must take its region
  from its arguments, and the warehouse is deployed outside us-east-1 so a guessed
  region would miss the Glue catalog.

Each is a separate process talking to the server through AWS_ENDPOINT_URL. Silver after
every snapshot must equal what the in-process local runner makes of the same snapshots.
The environments are built by tools/replicas.py (cached; `.ci/run` builds them first).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.models import lambda_backends
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from ppdw.aws.session import make_session
from ppdw.cli.app import app
from ppdw.config.loader import Project, load_project
from ppdw.targets import TargetContext
from tests.functional import pipeline_support as sup

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = sup.ACCOUNT
#: Not us-east-1: code that falls back to a default region misses the warehouse's catalog.
REGION = "eu-central-1"
INCOMING = "ppdw-replica-incoming"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
PROCESS_TIMEOUT = 600


def _load_replicas() -> ModuleType:
    spec = importlib.util.spec_from_file_location("replicas", REPO / "tools" / "replicas.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("replicas", module)
    spec.loader.exec_module(module)
    return module


replicas = _load_replicas()


# ------------------------------------------------------------------ the environments


def glue_python(project: Project, dataset: str) -> Path:
    glue = project.dataset(dataset).glue_settings(project.warehouse.glue)
    spec = replicas.glue_spec(glue.version, glue.additional_python_modules)
    return Path(replicas.ensure(spec)) / "bin" / "python"


def lambda_python(project: Project, dataset: str) -> Path:
    runtime = project.dataset(dataset).lambda_settings(project.warehouse.lambda_).runtime
    return Path(replicas.ensure(replicas.lambda_spec(runtime))) / "bin" / "python"


def base_env(endpoint: str, home: Path) -> dict[str, str]:
    """A process environment with nothing of this one's (no PYTHONPATH, no profile)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        **CREDENTIALS,
    }


def run_process(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT
    )
    assert done.returncode == 0, f"{command[1:3]} failed:\n{done.stderr[-4000:]}"
    return done.stdout


# ---------------------------------------------------------------- the AWS services


class Cloud:
    """What Step Functions, Lambda and Glue do with the deployed resources."""

    def __init__(self, endpoint: str, project: Project, workdir: Path) -> None:
        self.endpoint = endpoint
        self.project = project
        self.workdir = workdir
        session = boto3.Session(region_name=REGION, **_lower(CREDENTIALS))
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.glue = session.client("glue", endpoint_url=endpoint)
        self.lambda_ = session.client("lambda", endpoint_url=endpoint)

    def invoke_fetch(self, dataset: str, event: dict[str, Any]) -> dict[str, Any]:
        name = self.project.warehouse.names.dataset(dataset).fetch_function
        config = self.lambda_.get_function_configuration(FunctionName=name)
        root = self.workdir / "lambda" / name
        if not root.exists():
            code = lambda_backends[ACCOUNT][REGION].get_function(name).code_bytes
            root.mkdir(parents=True)
            (root.parent / f"{name}.zip").write_bytes(code)
            with zipfile.ZipFile(root.parent / f"{name}.zip") as archive:
                archive.extractall(root)
        module, function = str(config["Handler"]).rsplit(".", 1)
        env = {
            **base_env(self.endpoint, self.workdir),
            **config["Environment"]["Variables"],
            # what the Lambda runtime sets in every function
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "LAMBDA_TASK_ROOT": str(root),
            "AWS_LAMBDA_FUNCTION_NAME": name,
        }
        result = root.parent / f"{name}.result.json"
        runner = (
            f"import json, sys; import {module} as handler_module; "
            f"out = handler_module.{function}(json.loads(sys.argv[1]), None); "
            "open(sys.argv[2], 'w').write(json.dumps(out))"
        )
        python = str(lambda_python(self.project, dataset))
        run_process([python, "-c", runner, json.dumps(event), str(result)], root, env)
        return dict(json.loads(result.read_text()))

    def run_job(self, dataset: str, layer: str, arguments: dict[str, str]) -> None:
        name = self.project.warehouse.names.dataset(dataset).job(layer)
        job = self.glue.get_job(JobName=name)["Job"]
        run_id = self.glue.start_job_run(JobName=name, Arguments=arguments)["JobRunId"]
        folder = self.workdir / "glue" / name / run_id
        folder.mkdir(parents=True)
        script = folder / Path(job["Command"]["ScriptLocation"]).name
        script.write_bytes(self._get(job["Command"]["ScriptLocation"]))
        merged = {**job["DefaultArguments"], **arguments}
        runtime = folder / Path(merged["--extra-py-files"]).name
        runtime.write_bytes(self._get(merged["--extra-py-files"]))
        argv = [str(script), "--JOB_ID", f"j_{run_id}", "--JOB_RUN_ID", run_id]
        argv += ["--JOB_NAME", name]
        for key, value in merged.items():
            argv += [key, value]
        # Glue puts --extra-py-files on the driver's path; it sets no AWS_REGION we rely on
        env = {**base_env(self.endpoint, self.workdir), "PYTHONPATH": str(runtime)}
        run_process([str(glue_python(self.project, dataset)), *argv], folder, env)

    def _get(self, url: str) -> bytes:
        bucket, key = url.removeprefix("s3://").split("/", 1)
        return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def pipeline(self, dataset: str, index: int) -> dict[str, Any]:
        """One scheduled-like run: Fetch, then Bronze and Silver unless unchanged."""
        sample = (
            self.project.dataset_dir(dataset) / self.project.dataset(dataset).source.samples[index]
        )
        key = f"{dataset}/{index}/{sample.name}"
        self.s3.put_object(Bucket=INCOMING, Key=key, Body=sample.read_bytes())
        moment = sup.run_time(sup.RUN_TIMES[dataset][index])
        event = {
            "run_id": f"{dataset}-{moment:%Y%m%d-%H%M%S}",
            "run_time": f"{moment:%Y-%m-%dT%H:%M:%SZ}",
            "source": f"s3://{INCOMING}/{key}",
            "force": "false",
        }
        fetched = self.invoke_fetch(dataset, event)
        assert fetched["status"] == "fetched", fetched
        arguments = {f"--{k}": event[k] for k in ("run_id", "run_time", "force")}
        self.run_job(dataset, "bronze", arguments)
        self.run_job(dataset, "silver", arguments)
        return fetched


def _lower(credentials: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
    }


# ----------------------------------------------------------------------- fixtures


def rows(target: TargetContext, dataset: str) -> list[str]:
    """Silver as a reader sees it, as comparable, sorted JSON rows."""
    table = sup.read_silver(target, dataset)
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())


def in_process_silver(project: Project, dataset: str) -> list[list[str]]:
    """Silver after each snapshot, by the local runner in this process (moto in-process)."""
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        target = sup.aws_target()
        sup.make_core(target, project, [dataset])
        out = []
        for index in range(len(sup.RUN_TIMES[dataset])):
            sup.run(target, project, dataset, index)
            out.append(rows(target, dataset))
    return out


@contextmanager
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on a free loopback port, empty, as the only AWS of the block."""
    # one log line per request would bury a failure's own output
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # the server shares this process's moto backends: start from nothing
    _reset(endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    try:
        yield endpoint
    finally:
        _reset(endpoint)
        moto.stop()


def _reset(endpoint: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def deploy(project_dir: Path) -> None:
    for args in (["bootstrap-core", "--yes"], ["deploy", "--all", "--yes"]):
        result = CliRunner().invoke(app, ["--project", str(project_dir), "--target", "aws", *args])
        assert result.exit_code == 0, result.stderr


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("dataset", ["nsde", "rxnorm"])
def test_deployed_code_in_aws_like_environments_gives_the_in_process_silver(
    dataset: str, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_project(project)
    expected = in_process_silver(loaded, dataset)
    # the environments first (cached; built once per content by tools/replicas.py)
    glue_python(loaded, dataset)
    lambda_python(loaded, dataset)

    with moto_server(monkeypatch) as endpoint:
        deploy(project)
        cloud = Cloud(endpoint, loaded, tmp_path)
        cloud.s3.create_bucket(
            Bucket=INCOMING, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        target = TargetContext(
            name="aws",
            kind="aws",
            aws=make_session(region=REGION, endpoint_url=endpoint),
            account_id=ACCOUNT,
            region=REGION,
        )
        for index, silver in enumerate(expected):
            fetched = cloud.pipeline(dataset, index)
            assert fetched["run_id"].startswith(f"{dataset}-")
            assert rows(target, dataset) == silver, f"silver differs after snapshot {index}"
        record = sup.run_record(target, dataset, fetched["run_id"])
        assert record["status"] == "succeeded"
        assert [record["steps"][s]["status"] for s in ("bronze", "silver")] == ["succeeded"] * 2


def test_the_glue_replica_holds_exactly_glues_modules_plus_the_additional_ones() -> None:
    project = load_project(REPO)
    glue = project.warehouse.glue
    python = glue_python(project, "nsde")
    found = replicas.installed(python)
    provided = {
        replicas.canonical_name(name): version
        for name, _, version in (spec.partition("==") for spec in glue.environment.provided)
    }
    added = {
        replicas.canonical_name(name): version
        for name, _, version in (spec.partition("==") for spec in glue.additional_python_modules)
    }
    assert found == {**provided, **added}


def test_the_lambda_replica_has_the_sdk_and_nothing_the_runtime_lacks() -> None:
    project = load_project(REPO)
    python = lambda_python(project, "nsde")
    found = replicas.installed(python)
    assert found["boto3"] == "1.40.61"
    for missing in ("pyarrow", "pydantic", "numpy", "requests"):
        assert missing not in found
    version = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == "3.12"
