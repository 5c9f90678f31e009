"""What each control-plane command plans, on one opened target.

Glue between config, bundles, the planner and the executor; the CLI calls only this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ppdw.config.loader import Project, check_dataset_folder
from ppdw.deploy.bundle import read_dataset_artifacts, runtime_zip
from ppdw.deploy.core_specs import core_specs
from ppdw.deploy.desired import dataset_resources, dataset_specs, runtime_spec
from ppdw.deploy.execute import Executor
from ppdw.deploy.orphans import Orphan, find_orphans
from ppdw.deploy.plan import Action, plan, plan_destroy
from ppdw.deploy.resources import ResourceType, StackContext
from ppdw.deploy.state import AwsState
from ppdw.errors import ConfigError, PpdwError
from ppdw.targets import TargetContext


@dataclass
class ControlPlane:
    project: Project
    target: TargetContext

    @property
    def bucket(self) -> str:
        return self.project.warehouse.names.bucket(self.target.account_id)

    @property
    def athena(self) -> bool:
        """Whether the core has an Athena workgroup: where the target serves Athena (AWS
        targets unless configured `athena: false`; never `local`)."""
        return self.target.athena

    def state(self) -> AwsState:
        t = self.target
        return AwsState(t.aws, t.account_id, t.region, self.bucket)

    def executor(self) -> Executor:
        t = self.target
        return Executor(t.aws, t.account_id, t.region, self.bucket, t.kind)

    # -------------------------------------------------------------------- planning

    def plan_core(self) -> list[Action]:
        t = self.target
        specs = core_specs(
            self.project.warehouse,
            t.account_id,
            t.region,
            self.project.datasets.values(),
            athena=self.athena,
        )
        return plan(specs, self.state(), t.kind)

    def plan_datasets(self, names: Iterable[str]) -> list[Action]:
        """Runtime package once, then each dataset's stack."""
        wh, t = self.project.warehouse, self.target
        chosen = list(dict.fromkeys(names))
        specs = [runtime_spec(wh, t.account_id, runtime_zip())]
        for name in chosen:
            dataset = self.project.dataset(name)
            problems = check_dataset_folder(self.project.root, dataset)
            if problems:
                raise ConfigError("\n".join(problems), "add the missing files, then deploy again")
            ctx = StackContext(wh, dataset, t.account_id, t.region)
            artifacts = read_dataset_artifacts(
                self.project.dataset_dir(name), ctx.names.scripts_prefix
            )
            specs.extend(dataset_specs(ctx, artifacts))
        state = self.state()
        actions = plan(specs, state, t.kind)
        return actions

    def require_core(self) -> None:
        """Deploy needs the bucket and roles: refuse early with the fix."""
        state = self.state()
        missing = []
        if not state.bucket_exists():
            missing.append(f"bucket {self.bucket}")
        missing.extend(
            f"role {role}"
            for role in self.project.warehouse.names.roles
            if state.read("role", role) is None
        )
        if missing:
            raise PpdwError(
                f"the core is not deployed on target {self.target.name}: missing "
                + ", ".join(missing),
                "run `ppdw bootstrap-core` first",
            )

    def plan_destroy_dataset(self, name: str, delete_data: bool) -> list[Action]:
        wh = self.project.warehouse
        names = wh.names.dataset(name)
        targets = dataset_resources(names)
        if delete_data:
            targets.extend(
                ("table", f"{wh.database(layer)}.{names.table}") for layer in ("bronze", "silver")
            )
            targets.extend(
                ("prefix", prefix)
                for prefix in (
                    names.raw_prefix,
                    names.layer_prefix("bronze"),
                    names.layer_prefix("silver"),
                    names.layer_prefix("gold"),
                    f"silver/_rejects/{name}/",
                    names.runs_prefix,
                )
            )
        return plan_destroy(targets, self.state())

    def orphans(self) -> list[Orphan]:
        """Managed dataset stacks on the target whose dataset folder is gone."""
        return find_orphans(
            self.target, self.project, lambda name: self.plan_destroy_dataset(name, False)
        )

    def plan_destroy_core(self, delete_data: bool) -> list[Action]:
        wh = self.project.warehouse
        targets: list[tuple[ResourceType, str]] = [("role", role) for role in wh.names.roles]
        if self.athena:
            targets.append(("workgroup", wh.names.workgroup))
        if delete_data:
            targets.extend(
                ("database", wh.database(layer)) for layer in ("bronze", "silver", "gold")
            )
            targets.append(("bucket", self.bucket))
        return plan_destroy(targets, self.state())

    def apply(self, actions: list[Action], report: Callable[[Action], None]) -> int:
        return self.executor().apply(actions, report)
