"""Control-plane commands: validate, bootstrap-core, deploy, plan, destroy, add-dataset.

Each command loads the config, opens the target, asks `ppdw.deploy.service` for a plan,
renders it, and applies it unless told not to (showing, approving and applying a plan:
`ppdw.cli.plan_apply`). boto3-heavy modules load inside commands.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ppdw.cli import complete, context, render
from ppdw.cli.plan_apply import (
    Approval,
    RequireApproval,
    apply_plan,
    info,
    open_plane,
    report,
    show,
)
from ppdw.cli.render import plural
from ppdw.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from ppdw.config.loader import Project
    from ppdw.deploy.plan import Action
    from ppdw.deploy.service import ControlPlane

DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan; change nothing (exit 2 on changes).")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")]


def validate(ctx: typer.Context, as_json: Json = False) -> None:
    """Check every config file and dataset folder; no AWS calls.

    Example: ppdw validate
    """
    project = context.load_project(ctx, strict=True)
    names = sorted(project.datasets)
    if as_json:
        render.print_json({"valid": True, "datasets": names})
        return
    listed = ", ".join(names) or "no datasets"
    info(f"config/warehouse.json and {plural(len(names), 'dataset')} valid: {listed}")


def bootstrap_core(
    ctx: typer.Context,
    dry_run: DryRun = False,
    as_json: Json = False,
    require_approval: RequireApproval = Approval.broadening,
    yes: Yes = False,
) -> None:
    """Create or update the core: bucket, Glue databases, shared IAM roles.

    On AWS targets the plan is shown first, and applying it asks for approval when it
    grants new IAM permissions, replaces or deletes something (see --require-approval).

    Example: ppdw --target aws bootstrap-core --dry-run
    """
    project = context.load_project(ctx)
    with context.open_target(ctx, project) as target:
        plane = open_plane(project, target)
        actions = plane.plan_core()
        if dry_run:
            changes = show(
                actions,
                "bootstrap-core plan",
                as_json,
                target.name,
                "Run `ppdw bootstrap-core` to apply.",
            )
        else:
            apply_plan(
                target,
                plane,
                actions,
                title="bootstrap-core plan",
                as_json=as_json,
                level=require_approval,
                yes=yes,
            )
            changes = 0
    if changes:
        raise typer.Exit(int(ExitCode.CHANGES))


def _chosen(project: Project, datasets: list[str] | None, all_: bool) -> list[str]:
    if datasets and all_:
        raise UsageError("give dataset names or --all, not both")
    chosen = datasets or sorted(project.datasets)
    for name in chosen:
        project.dataset(name)
    if not chosen:
        raise UsageError("no datasets in fda/", "create one with `ppdw add-dataset NAME`")
    return chosen


def deploy(
    ctx: typer.Context,
    datasets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="DATASET", autocompletion=complete.datasets, help="Datasets (default: all)."
        ),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Deploy every dataset.")] = False,
    dry_run: DryRun = False,
    as_json: Json = False,
    require_approval: RequireApproval = Approval.broadening,
    yes: Yes = False,
) -> None:
    """Create or update dataset stacks (Lambda, Glue jobs, crawlers, pipeline, schedule).

    On AWS targets the plan is shown first, and applying it asks for approval when it
    grants new IAM permissions, replaces or deletes something (see --require-approval).

    Example: ppdw --target aws deploy nsde rxnorm
    """
    project = context.load_project(ctx)
    chosen = _chosen(project, datasets, all_)
    title = f"deploy plan: {', '.join(chosen)}"
    with context.open_target(ctx, project) as target:
        plane = open_plane(project, target)
        if not dry_run:
            plane.require_core()
        actions = plane.plan_datasets(chosen)
        if dry_run:
            changes = show(actions, title, as_json, target.name, "Run `ppdw deploy` to apply.")
        else:
            apply_plan(
                target,
                plane,
                actions,
                title=title,
                as_json=as_json,
                level=require_approval,
                yes=yes,
            )
            from ppdw.targets import receipt  # AWS modules: not for `ppdw --help`

            for name in chosen:  # the local target's note that these stacks are current
                receipt.record(target, project.warehouse.names, project.root, name)
            changes = 0
    if changes:
        raise typer.Exit(int(ExitCode.CHANGES))


def plan(
    ctx: typer.Context,
    datasets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="DATASET",
            autocompletion=complete.datasets,
            help="Datasets to plan (default: all).",
        ),
    ] = None,
    core: Annotated[bool, typer.Option("--core", help="Plan the core.")] = False,
    as_json: Json = False,
) -> None:
    """Show what bootstrap-core / deploy would change; exit 0 none, 2 changes, 1 error.

    Example: ppdw --target aws plan --json
    """
    project = context.load_project(ctx)
    everything = not core and not datasets
    with context.open_target(ctx, project, read_only=True) as target:
        plane = open_plane(project, target)
        actions = plane.plan_core() if core or everything else []
        names = datasets or (sorted(project.datasets) if everything else [])
        if names:
            actions += plane.plan_datasets(_chosen(project, names, False))
            if not as_json:
                _engines(project, names)
        if everything:
            actions += _orphan_actions(plane, as_json)
        step = "Run `ppdw bootstrap-core` and `ppdw deploy` to apply."
        if not core and not everything:
            step = "Run `ppdw deploy` to apply."
        elif core:
            step = "Run `ppdw bootstrap-core` to apply."
        changes = show(actions, "plan", as_json, target.name, step)
    if changes:
        raise typer.Exit(int(ExitCode.CHANGES))


def _orphan_actions(plane: ControlPlane, as_json: bool) -> list[Action]:
    """Deletes for stacks whose dataset folder is gone; says which command removes each."""
    actions: list[Action] = []
    for orphan in plane.orphans():
        if not as_json:
            info(
                f"{orphan.dataset}: fda/{orphan.dataset}/ is gone but its stack is deployed "
                f"(to destroy: {orphan.command})"
            )
        actions.extend(orphan.actions)
    return actions


def _engines(project: Project, names: list[str]) -> None:
    from ppdw.deploy.glue_specs import engine_summary, job_workers

    for name in names:
        glue = project.dataset(name).glue_settings(project.warehouse.glue)
        info(f"{name}: {engine_summary(glue)}, {job_workers(glue)} {glue.worker_type} workers")


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("refusing to destroy without confirmation", "pass --yes to confirm")
    if not typer.confirm(question, default=False, err=True):
        raise UsageError("destroy cancelled")


def _is_orphan(plane: ControlPlane, dataset: str) -> bool:
    """A stack deployed for `dataset` whose folder is gone: destroy still removes it."""
    from ppdw.deploy.orphans import candidate_datasets

    return dataset in candidate_datasets(plane.target, plane.project)


def destroy(
    ctx: typer.Context,
    dataset: Annotated[
        str | None,
        typer.Argument(
            metavar="DATASET",
            autocompletion=complete.datasets,
            help="Dataset whose stack to remove.",
        ),
    ] = None,
    core: Annotated[
        bool,
        typer.Option(
            "--core", help="Remove the core (roles; bucket and databases with --delete-data)."
        ),
    ] = False,
    delete_data: Annotated[
        bool, typer.Option("--delete-data", help="Also delete S3 data and Glue tables.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove ppdw-managed resources; S3 data stays unless --delete-data.

    Example: ppdw --target aws destroy nsde --yes
    """
    if (dataset is None) == (not core):
        raise UsageError("give one DATASET or --core", "ppdw destroy nsde | ppdw destroy --core")
    project = context.load_project(ctx)
    with context.open_target(ctx, project) as target:
        plane = open_plane(project, target)
        if core:
            actions = plane.plan_destroy_core(delete_data)
        else:
            assert dataset is not None
            if dataset not in project.datasets and not _is_orphan(plane, dataset):
                project.dataset(dataset)  # unknown: the usual error, with "did you mean"
            actions = plane.plan_destroy_dataset(dataset, delete_data)
        if not delete_data:
            info(
                "data is kept (S3 objects, Glue tables"
                + (", bucket, databases" if core else "")
                + "); --delete-data removes it"
            )
        show(actions, "destroy plan", False, target.name, None)
        if not any(a.kind == "delete" for a in actions):
            return
        _confirm(f"Delete these resources on target {target.name}?", yes)
        applied = plane.apply(actions, report)
        info(f"Destroyed on target {target.name}: {plural(applied, 'resource')}.")


def add_dataset(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Dataset name: lower case, digits, '_'.")
    ],
    source_url: Annotated[
        str | None, typer.Option("--source-url", metavar="URL", help="Download URL.")
    ] = None,
    format_: Annotated[
        str, typer.Option("--format", metavar="csv|tsv|rrf", help="File format.")
    ] = "csv",
    business_key: Annotated[
        str | None,
        typer.Option("--business-key", metavar="COL,...", help="Key columns, comma-separated."),
    ] = None,
    description: Annotated[
        str, typer.Option("--description", metavar="TEXT", help="One line.")
    ] = "",
    columns: Annotated[
        str | None,
        typer.Option("--columns", metavar="COL,...", help="Column names of a headerless file."),
    ] = None,
    deploy_now: Annotated[bool, typer.Option("--deploy", help="Deploy it at once.")] = False,
) -> None:
    """Scaffold fda/NAME/ from templates, validated; never overwrites.

    Example: ppdw add-dataset ndc --format tsv --business-key productndc
    """
    from ppdw.deploy.scaffold import NewDataset, scaffold

    if format_ not in ("csv", "tsv", "rrf"):
        raise UsageError(f"--format must be csv, tsv or rrf, not {format_!r}")
    project = context.load_project(ctx)
    spec = NewDataset(
        name=name,
        source_url=source_url,
        format=format_,  # type: ignore[arg-type]
        business_key=_split(business_key),
        description=description,
        columns=_split(columns),
    )
    folder = scaffold(project.root, spec)
    info(f"created {folder.relative_to(project.root)}/ (edit config/dataset.json, add a sample)")
    if deploy_now:
        fresh = context.load_project(ctx)
        with context.open_target(ctx, fresh) as target:
            plane = open_plane(fresh, target)
            plane.require_core()
            apply_plan(
                target,
                plane,
                plane.plan_datasets([name]),
                title=f"deploy plan: {name}",
                as_json=False,
                level=Approval.broadening,
                yes=False,
            )


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("bootstrap-core")(bootstrap_core)
    app.command("deploy")(deploy)
    app.command("plan")(plan)
    app.command("destroy")(destroy)
    app.command("add-dataset")(add_dataset)
