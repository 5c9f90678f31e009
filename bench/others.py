"""Issue 5's other measurements, kept beside the end-to-end run: the second deploy makes
no mutating call, `ppdw --help` starts fast, and fetch streams a large file in flat memory.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from bench import gen
from bench.e2e import RUN_TIMES
from bench.measure import run_child

if TYPE_CHECKING:
    from bench.suite import Options, Report


def control_section(report: Report, options: Options) -> None:
    from bench.control import control_plane

    result = control_plane(options.workdir)
    report.extra["control_plane"] = asdict(result)
    report.goal(
        "2nd bootstrap-core + deploy --all: mutating calls",
        float(len(result.second_pass_mutating)),
        0.0,
        "calls",
        note=f"{result.second_pass_calls} calls in all; first pass "
        f"{result.first_pass_mutating} mutating of {result.first_pass_calls}",
    )


def startup_section(report: Report, options: Options) -> None:
    from bench.control import startup

    result = startup(max(3, options.repeat))
    report.extra["startup"] = {
        "ppdw_help": list(result.ppdw_help.runs),
        "python_pass": list(result.python_pass.runs),
    }
    report.goal("ppdw --help minus python -c pass", result.extra_seconds, 0.3, "s")


def fetch_section(report: Report, options: Options) -> None:
    import boto3

    from bench.control import moto_server
    from bench.fetch_local import BUCKET

    big = options.workdir / f"big-{options.fetch_mb}mb.csv"
    if not big.exists() or big.stat().st_size < options.fetch_mb * 1024 * 1024:
        gen.write_big_file(big, options.fetch_mb * 1024 * 1024)
    with moto_server(options.workdir) as server:
        s3 = boto3.client(
            "s3",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=BUCKET)
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }
        params = {
            "endpoint": server.url,
            "source": str(big),
            "run_id": "nsde-fetch",
            "run_time": RUN_TIMES["first_load"].isoformat(),
        }
        child = run_child("fetch.ppdw", params, env=env)
    seconds = float(child.output["seconds"])
    size = int(child.output["bytes"])
    report.extra["fetch"] = {
        **child.output,
        "peak_rss_bytes": child.peak_rss_bytes,
        "mb_per_s": size / seconds / 1e6,
    }
    report.goal(
        "fetch of a large file: peak RSS",
        child.peak_rss_bytes / 1e6,
        150.0,
        "MB",
        note=f"{size / 1e6:,.0f} MB at {size / seconds / 1e6:.0f} MB/s into a moto server",
    )
