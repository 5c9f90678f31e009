"""`ppdw deployer-policy`: the IAM policy a deployer identity needs on this project.

No AWS call when the account is known (`--account-id`, or the target's `account_id`);
otherwise the target is opened to ask STS, which needs no permission.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from ppdw.cli import context, render

if TYPE_CHECKING:
    from ppdw.config.loader import Project


def _where(ctx: typer.Context, project: Project, account_id: str | None) -> tuple[str, str]:
    """The account and region the policy is scoped to."""
    name = context.target_name(ctx, project)
    config = project.warehouse.all_targets[name]
    account = account_id or config.account_id
    if account is None:
        with context.open_target(ctx, project) as target:
            return target.account_id, target.region
    if config.kind == "local":
        return account, project.warehouse.region
    from ppdw.targets.aws import resolve_region

    return account, resolve_region(config, project.warehouse)


def deployer_policy(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the policy document alone (JSON).")
    ] = False,
    account_id: Annotated[
        str | None,
        typer.Option(
            "--account-id",
            metavar="ID",
            help="Account to scope to (default: the target's account_id, else STS).",
        ),
    ] = None,
) -> None:
    """Print the least-privilege IAM policy for every ppdw command on this project.

    Example: ppdw --target aws deployer-policy --json > deployer-policy.json
    """
    from ppdw.deploy.deployer import deployer_policy as build
    from ppdw.deploy.deployer import describe
    from ppdw.deploy.policy_checks import compact_size
    from ppdw.errors import UsageError

    if account_id is not None and not (account_id.isdigit() and len(account_id) == 12):
        raise UsageError(f"--account-id {account_id!r} is not a 12-digit AWS account id")
    project = context.load_project(ctx)
    account, region = _where(ctx, project, account_id)
    document = build(project.warehouse, account, region, project.datasets.values())
    if as_json:
        render.print_json(document)
        return
    _listing(describe(document), f"deployer policy: account {account}, region {region}")
    render.err().print(
        f"{len(document['Statement'])} statements, {compact_size(document)} characters "
        "(a managed policy holds 6144). Save it with --json and attach it to the identity "
        "that runs ppdw, e.g. aws iam create-policy --policy-name "
        f"{project.warehouse.prefix}-deployer --policy-document file://deployer-policy.json",
        soft_wrap=True,
    )


def _listing(rows: list[dict[str, object]], title: str) -> None:
    """One block per statement; ARNs stay whole on their lines (people copy them)."""
    console = render.out()
    console.print(title, soft_wrap=True)
    for row in rows:
        console.print(f"\n{row['sid']}", soft_wrap=True)
        for label in ("actions", "resources"):
            values = row[label]
            assert isinstance(values, list)
            console.print(f"  {label}: " + ", ".join(str(v) for v in values), soft_wrap=True)
        if row["condition"] is not None:
            console.print(f"  condition: {json.dumps(row['condition'])}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("deployer-policy")(deployer_policy)
