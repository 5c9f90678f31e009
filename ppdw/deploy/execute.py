"""Actions -> API calls: the only module of the control plane that mutates.

Updates touch only what the action's field changes name (a changed tag never rewrites a
job). Glue jobs and crawlers are updated in place on AWS (re-creating them would lose
their run history); on the `local` target moto cannot, so they are replaced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from ppdw.aws.glue import UpdateNotSupportedError
from ppdw.aws.session import AwsSession
from ppdw.deploy.plan import Action, TargetKind
from ppdw.deploy.resources import ResourceSpec
from ppdw.deploy.state import AwsState
from ppdw.errors import AwsError, PpdwError


def _touched(action: Action, *prefixes: str) -> bool:
    return any(change.field.startswith(prefixes) for change in action.changes)


def _untagged_changes(action: Action) -> bool:
    return any(not change.field.startswith("tags.") for change in action.changes)


class Executor:
    def __init__(
        self,
        aws: AwsSession,
        account_id: str,
        region: str,
        bucket: str,
        target_kind: TargetKind = "aws",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state = AwsState(aws, account_id, region, bucket, sleep)
        self.bucket = bucket
        self.region = region
        self.target_kind = target_kind
        self._report: Callable[[str], None] = lambda message: None

    def _notice(self, message: str) -> None:
        self._report(message)

    def apply(self, actions: Iterable[Action], report: Callable[[Action], None]) -> int:
        """Apply every non-noop action in order; return how many were applied."""
        applied = 0
        self._report = lambda message: report(Action("noop", "job", "", message))
        for action in actions:
            if action.kind == "noop":
                continue
            report(action)
            if action.kind == "delete":
                self._delete(action)
            else:
                spec = action.spec
                if spec is None:
                    raise PpdwError(f"internal: {action.message} has no spec")
                handler = getattr(self, f"_{action.kind}_{spec.resource_type}")
                handler(spec, action)
            applied += 1
        return applied

    # ------------------------------------------------------------------------- bucket

    def _create_bucket(self, spec: ResourceSpec, action: Action) -> None:
        s3, p = self.state.s3, spec.payload
        s3.create_bucket(spec.name, p["region"])
        s3.put_public_access_block(spec.name, p["public_access_block"])
        s3.put_encryption(spec.name, p["encryption"])
        s3.put_policy(spec.name, p["policy"])
        s3.put_lifecycle(spec.name, p["lifecycle"])
        s3.put_tags(spec.name, dict(spec.tags))

    def _update_bucket(self, spec: ResourceSpec, action: Action) -> None:
        s3, p, name = self.state.s3, spec.payload, spec.name
        if _touched(action, "region"):
            raise AwsError(
                f"bucket {name} is in region {s3.bucket_region(name)}, the target in {p['region']}",
                "a bucket cannot move: use the target whose region holds it",
            )
        if _touched(action, "public_access_block."):
            s3.put_public_access_block(name, p["public_access_block"])
        if _touched(action, "encryption"):
            s3.put_encryption(name, p["encryption"])
        if _touched(action, "policy"):
            s3.put_policy(name, p["policy"])
        if _touched(action, "lifecycle"):
            s3.put_lifecycle(name, p["lifecycle"])
        if _touched(action, "versioning"):
            s3.put_versioning(name, p["versioning"])
        if _touched(action, "tags."):
            # put_bucket_tagging replaces the whole set: keep tags others added.
            s3.put_tags(name, {**s3.tags(name), **spec.tags})

    # ---------------------------------------------------------------- database, role

    def _create_database(self, spec: ResourceSpec, action: Action) -> None:
        self.state.glue.create_database(spec.name, spec.payload["Description"], dict(spec.tags))

    def _update_database(self, spec: ResourceSpec, action: Action) -> None:
        if _touched(action, "Description"):
            self.state.glue.update_database(spec.name, spec.payload["Description"])
        if _touched(action, "tags."):
            self.state.glue.tag("database", spec.name, dict(spec.tags))

    def _create_workgroup(self, spec: ResourceSpec, action: Action) -> None:
        p = spec.payload
        self.state.athena.create_workgroup(
            spec.name, p["description"], p["configuration"], dict(spec.tags)
        )

    def _update_workgroup(self, spec: ResourceSpec, action: Action) -> None:
        athena, p = self.state.athena, spec.payload
        if _untagged_changes(action):
            athena.update_workgroup(spec.name, p["description"], p["updates"])
        if _touched(action, "tags."):
            athena.tag(spec.name, dict(spec.tags))

    def _create_role(self, spec: ResourceSpec, action: Action) -> None:
        iam, p = self.state.iam, spec.payload
        iam.create_role(spec.name, p["trust"], p["description"], dict(spec.tags))
        for policy, document in p["policies"].items():
            iam.put_policy(spec.name, policy, document)

    def _update_role(self, spec: ResourceSpec, action: Action) -> None:
        iam, p = self.state.iam, spec.payload
        for change in action.changes:
            if change.field == "trust":
                iam.update_trust(spec.name, p["trust"])
            elif change.field == "Description":
                iam.update_description(spec.name, p["description"])
            elif change.field.startswith("policy."):
                policy = change.field.removeprefix("policy.")
                if policy in p["policies"]:
                    iam.put_policy(spec.name, policy, p["policies"][policy])
                else:
                    iam.delete_policy(spec.name, policy)
        if _touched(action, "tags."):
            iam.tag_role(spec.name, dict(spec.tags))

    # ----------------------------------------------------------------- object, logs

    def _create_object(self, spec: ResourceSpec, action: Action) -> None:
        p = spec.payload
        self.state.s3.put_object(
            p["bucket"], spec.name, p["body"], {"sha256": p["sha256"]}, p["content_type"]
        )

    _update_object = _create_object

    def _create_log_group(self, spec: ResourceSpec, action: Action) -> None:
        self.state.logs.create(spec.name, dict(spec.tags))
        self.state.logs.put_retention(spec.name, spec.payload["retention"])

    def _update_log_group(self, spec: ResourceSpec, action: Action) -> None:
        if _touched(action, "retentionInDays"):
            self.state.logs.put_retention(spec.name, spec.payload["retention"])
        if _touched(action, "tags."):
            self.state.logs.tag(spec.name, dict(spec.tags))

    # ------------------------------------------------------------------- function

    def _create_function(self, spec: ResourceSpec, action: Action) -> None:
        p = spec.payload
        self.state.lambda_.create_function(p["configuration"], p["zip"], dict(spec.tags))

    def _update_function(self, spec: ResourceSpec, action: Action) -> None:
        fn, p = self.state.lambda_, spec.payload
        if _touched(action, "CodeSha256"):
            fn.update_code(spec.name, p["zip"])
        if any(not c.field.startswith(("tags.", "CodeSha256")) for c in action.changes):
            fn.update_configuration(p["configuration"])
        if _touched(action, "tags."):
            current = fn.function(spec.name)
            arn = current["Configuration"]["FunctionArn"] if current else spec.name
            fn.tag(arn, dict(spec.tags))

    # -------------------------------------------------------------------- glue

    def _create_job(self, spec: ResourceSpec, action: Action) -> None:
        self.state.glue.create_job(spec.payload["definition"], dict(spec.tags))

    def _update_job(self, spec: ResourceSpec, action: Action) -> None:
        glue = self.state.glue
        self._update_glue_resource(
            "job", spec, action, lambda: glue.update_job(spec.payload["definition"])
        )

    def _create_crawler(self, spec: ResourceSpec, action: Action) -> None:
        self.state.glue.create_crawler(spec.payload["definition"], dict(spec.tags))

    def _update_crawler(self, spec: ResourceSpec, action: Action) -> None:
        definition = dict(spec.payload["definition"])
        if _touched(action, "Schedule"):
            definition["Schedule"] = ""  # an empty schedule removes it
        glue = self.state.glue
        self._update_glue_resource("crawler", spec, action, lambda: glue.update_crawler(definition))

    def _update_glue_resource(
        self,
        kind: Literal["job", "crawler"],
        spec: ResourceSpec,
        action: Action,
        update: Callable[[], None],
    ) -> None:
        """A Glue job or crawler: updated in place (keeps its run history), or deleted and
        created again where the plan says so (local target) or the endpoint cannot update."""
        glue = self.state.glue
        delete, create = (
            (glue.delete_job, self._create_job)
            if kind == "job"
            else (glue.delete_crawler, self._create_crawler)
        )
        replace = action.replace
        if not replace and _untagged_changes(action):
            try:
                update()
            except UpdateNotSupportedError:
                self._notice(f"{spec.name}: the endpoint cannot update {kind}s; delete + create")
                replace = True
        if replace:
            delete(spec.name)
            create(spec, action)
            return
        if _touched(action, "tags."):
            glue.tag(kind, spec.name, dict(spec.tags))

    # ---------------------------------------------------------- state machine, rule

    def _create_state_machine(self, spec: ResourceSpec, action: Action) -> None:
        p = spec.payload
        self.state.states.create(spec.name, p["definition"], p["role_arn"], dict(spec.tags))

    def _update_state_machine(self, spec: ResourceSpec, action: Action) -> None:
        p = spec.payload
        if _untagged_changes(action):
            self.state.states.update(spec.name, p["definition"], p["role_arn"])
        if _touched(action, "tags."):
            self.state.states.tag(spec.name, dict(spec.tags))

    def _put_rule(self, spec: ResourceSpec) -> str:
        rule: dict[str, Any] = dict(spec.payload["rule"])
        return self.state.events.put_rule(
            spec.name,
            rule["ScheduleExpression"],
            bool(spec.payload["enabled"]),
            rule["Description"],
            dict(spec.tags),
        )

    def _create_rule(self, spec: ResourceSpec, action: Action) -> None:
        self._put_rule(spec)
        self.state.events.put_target(spec.name, spec.payload["target"])

    def _update_rule(self, spec: ResourceSpec, action: Action) -> None:
        arn = None
        if _touched(action, "ScheduleExpression", "State", "Description"):
            arn = self._put_rule(spec)
        if _touched(action, "target."):
            self.state.events.put_target(spec.name, spec.payload["target"])
        if _touched(action, "tags."):
            if arn is None:
                current = self.state.events.rule(spec.name)
                arn = str(current["Arn"]) if current else spec.name
            self.state.events.tag(arn, dict(spec.tags))

    # ---------------------------------------------------------------------- delete

    def _delete(self, action: Action) -> None:
        st, name = self.state, action.name
        match action.resource_type:
            case "rule":
                st.events.delete_rule(name)
            case "state_machine":
                st.states.delete(name)
            case "crawler":
                st.glue.delete_crawler(name)
            case "job":
                st.glue.delete_job(name)
            case "function":
                st.lambda_.delete_function(name)
            case "log_group":
                st.logs.delete(name)
            case "object":
                st.s3.delete_keys(self.bucket, [name])
            case "prefix":
                st.s3.delete_prefix(self.bucket, name)
            case "table":
                database, table = name.split(".", 1)
                st.glue.delete_table(database, table)
            case "role":
                st.iam.delete_role(name)
            case "workgroup":
                st.athena.delete_workgroup(name)
            case "database":
                st.glue.delete_database(name)
            case "bucket":
                st.s3.delete_all_versions(name)
                st.s3.delete_bucket(name)
