"""Measure ways to keep the `local` target's moto state between processes.

`python -m bench.local_state [--mb 40] [--objects 80] [--partitions 300] [--repeat 5]`

Builds a warehouse the size of the sample one (S3 objects of incompressible bytes, as
ZSTD parquet is; Glue databases, tables and partitions; IAM roles; a Lambda function; a
state machine; a schedule) in moto, then times, median of `repeat` runs:

- `pickle + body files` (what ppdw uses): S3 bodies are written as files when they are
  put (`ppdw.targets.bodies`), so `ppdw.targets.state.save_state` writes metadata only;
  and `load_state` into empty backends;
- `pickle inline`: the same backends pickled with bodies inside one file;
- `api export/import`: every S3 object read through the API into files, and put back into
  an empty moto through the API (S3 only: the other services would add their own calls).

Prints a Markdown table on stdout. Times are in this process (moto already imported).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUCKET = "pp-dw-123456789012"


def _median(fn: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build(aws: Any, mb: int, objects: int, partitions: int) -> int:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    size = mb * 1_000_000 // objects
    for index in range(objects):
        key = f"bronze/bronze_nsde/partition_datetime=2024-01-{index:03d}/part-0.parquet"
        s3.put_object(Bucket=BUCKET, Key=key, Body=os.urandom(size))
    trust = {"Version": "2012-10-17", "Statement": []}
    iam = aws.client("iam")
    role = ""
    for name in ("glue", "lambda", "states", "events"):
        role = iam.create_role(
            RoleName=f"pp-dw-{name}-role", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
    glue = aws.client("glue")
    for layer in ("bronze", "silver", "gold"):
        glue.create_database(DatabaseInput={"Name": f"pp_dw_{layer}"})
    columns = [{"Name": f"c{i}", "Type": "string"} for i in range(20)]
    for db in ("pp_dw_bronze", "pp_dw_silver"):
        glue.create_table(
            DatabaseName=db,
            TableInput={
                "Name": "nsde",
                "StorageDescriptor": {"Columns": columns},
                "PartitionKeys": [{"Name": "p", "Type": "string"}],
            },
        )
        inputs = [
            {"Values": [f"v{i}"], "StorageDescriptor": {"Columns": columns}}
            for i in range(partitions)
        ]
        for start in range(0, partitions, 100):
            glue.batch_create_partition(
                DatabaseName=db, TableName="nsde", PartitionInputList=inputs[start : start + 100]
            )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    aws.client("lambda").create_function(
        FunctionName="pp-dw-raw-fetch-nsde",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buf.getvalue()},
    )
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    aws.client("stepfunctions").create_state_machine(
        name="pp-dw-pipeline-nsde", definition=json.dumps(definition), roleArn=role
    )
    aws.client("events").put_rule(Name="pp-dw-schedule-nsde", ScheduleExpression="rate(1 day)")
    return size * objects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=40)
    parser.add_argument("--objects", type=int, default=80)
    parser.add_argument("--partitions", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    from moto.core.base_backend import BackendDict

    from ppdw.targets import bodies
    from ppdw.targets.local import local_session, start_moto
    from ppdw.targets.state import capture_backends, load_state, restore_backends, save_state

    import_seconds = time.perf_counter() - started
    work = Path(tempfile.mkdtemp(prefix="ppdw-bench-"))
    stop = start_moto()
    state = work / "state"
    # As the local target does: bodies go to files under the state folder when put.
    store = bodies.BodyStore(state / bodies.OBJECTS_DIR)
    bodies.activate(store)
    rows: list[tuple[str, str, str]] = []
    try:
        aws = local_session("us-east-1")
        body_bytes = build(aws, args.mb, args.objects, args.partitions)
        save = _median(lambda: save_state(state, store), args.repeat)
        load = _median(lambda: load_state(state, store), args.repeat, before=BackendDict.reset)
        state_file = (state / "state.pickle").stat().st_size
        rows.append(("pickle + body files (ppdw)", f"{save:.3f}", f"{load:.3f}"))

        inline = work / "inline.pickle"

        def dump_inline() -> None:
            from ppdw.targets.state import BlobStore, _StatePickler

            class InlinePickler(_StatePickler):
                def persistent_id(self, obj: Any) -> Any:
                    return None  # bodies stay inside the pickle

                def reducer_override(self, obj: Any) -> Any:
                    if type(obj) is self._fake_key:
                        return NotImplemented  # moto's own: the body's bytes in the pickle
                    return super().reducer_override(obj)

            handle = io.BytesIO()
            InlinePickler(handle, BlobStore(work / "unused"), store).dump(capture_backends())
            inline.write_bytes(handle.getvalue())

        inline_save = _median(dump_inline, args.repeat)

        def load_inline() -> None:
            restore_backends(pickle.loads(inline.read_bytes()))

        inline_load = _median(load_inline, args.repeat, before=BackendDict.reset)
        rows.append(("pickle inline", f"{inline_save:.3f}", f"{inline_load:.3f}"))

        s3 = aws.client("s3")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, MaxKeys=1000)["Contents"]]
        exported = work / "export"

        def api_export() -> None:
            for key in keys:
                path = exported / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

        def api_import() -> None:
            s3.create_bucket(Bucket=BUCKET)
            for key in keys:
                s3.put_object(Bucket=BUCKET, Key=key, Body=(exported / key).read_bytes())

        api_save = _median(api_export, args.repeat)
        api_load = _median(api_import, args.repeat, before=BackendDict.reset)
        rows.append(("api export/import (S3 only)", f"{api_save:.3f}", f"{api_load:.3f}"))
    finally:
        bodies.activate(None)
        store.close()
        stop()
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"Warehouse: {args.objects} objects, {body_bytes / 1e6:.1f} MB of bodies, "
        f"2 tables x {args.partitions} partitions, 4 roles, 1 Lambda, 1 state machine, 1 rule; "
        f"median of {args.repeat}; Python {sys.version.split()[0]}"
    )
    print(
        f"ppdw state file (metadata only): {state_file / 1e3:.1f} kB; "
        f"import moto+ppdw: {import_seconds:.3f} s\n"
    )
    print("| mechanism | save (s) | load (s) |")
    print("|---|---|---|")
    for name, save, load_time in rows:
        print(f"| {name} | {save} | {load_time} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
