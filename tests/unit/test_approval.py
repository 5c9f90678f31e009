"""What needs approval before deploy applies a plan, and how plans are counted."""

from __future__ import annotations

import json

from ppdw.cli.plan_view import plan_text, shorten
from ppdw.deploy.approval import approval_reasons, broadens_iam, summarize
from ppdw.deploy.plan import Action, FieldChange


def policy(*statements: tuple[str, str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": action, "Resource": resource}
                for action, resource in statements
            ],
        }
    )


READ_RAW = ("s3:GetObject", "arn:aws:s3:::b/raw/*")
READ_RUNS = ("s3:GetObject", "arn:aws:s3:::b/silver/_runs/*")


def role_update(old: str, new: str) -> Action:
    change = FieldChange("policy.pp-dw-lambda", old, new)
    return Action("update", "role", "pp-dw-lambda-role", "update role", (change,))


def test_a_role_policy_granting_a_new_resource_broadens() -> None:
    assert broadens_iam(role_update(policy(READ_RAW), policy(READ_RAW, READ_RUNS)))


def test_a_role_policy_that_only_narrows_or_reorders_does_not_broaden() -> None:
    assert not broadens_iam(role_update(policy(READ_RAW, READ_RUNS), policy(READ_RAW)))
    assert not broadens_iam(role_update(policy(READ_RAW, READ_RUNS), policy(READ_RUNS, READ_RAW)))
    # IAM action names are case-insensitive
    assert not broadens_iam(role_update(policy(READ_RAW), policy(("S3:GetObject", READ_RAW[1]))))


def test_approval_levels() -> None:
    worker = Action(
        "update", "job", "pp-dw-bronze-nsde", "m", (FieldChange("NumberOfWorkers", 2, 3),)
    )
    replaced = Action("update", "job", "pp-dw-silver-nsde", "m", worker.changes, replace=True)
    gone = Action("delete", "function", "pp-dw-raw-fetch-ndc", "m")
    new_role = Action("create", "role", "pp-dw-glue-role", "m")
    plan = [worker, replaced, gone, new_role]
    assert approval_reasons(plan, "never") == []
    assert approval_reasons(plan, "broadening") == [
        "job pp-dw-silver-nsde: replaced (deleted and created again)",
        "function pp-dw-raw-fetch-ndc: deleted",
        "role pp-dw-glue-role: grants new IAM permissions",
    ]
    assert approval_reasons([worker], "broadening") == []
    assert approval_reasons([worker], "any-change") == ["job pp-dw-bronze-nsde: update"]


def test_a_replacement_counts_as_one_add_and_one_destroy() -> None:
    plan = [
        Action("create", "job", "a", "m"),
        Action("update", "job", "b", "m", replace=True),
        Action("update", "job", "c", "m"),
        Action("delete", "job", "d", "m"),
        Action("noop", "job", "e", "m"),
    ]
    assert summarize(plan).line() == "2 to add, 1 to change, 2 to destroy"


def test_plan_text_shows_permissions_added_and_removed() -> None:
    action = role_update(policy(READ_RAW), policy(READ_RUNS))
    text = plan_text([action], "plan (target aws):", "Run `ppdw bootstrap-core` to apply.").plain
    assert text.splitlines() == [
        "plan (target aws):",
        "",
        "    ~ role pp-dw-lambda-role",
        "        policy.pp-dw-lambda:",
        "        +   allow s3:getobject on arn:aws:s3:::b/silver/_runs/*",
        "        -   allow s3:getobject on arn:aws:s3:::b/raw/*",
        "",
        "Plan: 0 to add, 1 to change, 0 to destroy.",
        "Run `ppdw bootstrap-core` to apply.",
    ]


def test_long_values_are_shortened() -> None:
    assert shorten("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == (
        "e3b0c44298fc…"
    )
    document = json.dumps({"key": "x" * 200})
    assert shorten(document) == f"{document[:40]}… (211 chars)"
    assert shorten(None) == "(none)"
    assert shorten(3) == "3"
