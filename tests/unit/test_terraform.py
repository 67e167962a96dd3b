"""infra/terraform declares exactly the topology outbox/topology.py declares (and that
`pixwave topology apply` creates), and grants each role only the calls its code makes.

Expectations come from `declare()` and the code, never from the .tf files; numbers in
Terraform are variable defaults, which is what these tests read. A change on either
side without the other fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.domain.events import Topic
from app.settings import Settings
from outbox.apply import _queue_policy, _redrive_allow_policy
from outbox.topology import Topology, declare
from tests.terraform import Ref, Terraform, policy_json

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra/terraform"
PREFIX = Settings.model_fields["name_prefix"].default
# The AWS service each role's code calls, and the files that call it.
ROLE_CODE = {
    "relay": ("sns", ["outbox/publisher.py", "outbox/relay.py"]),
    "worker": ("sqs", ["workers/runtime/worker.py"]),
}
KMS_USES = {"kms:GenerateDataKey", "kms:Decrypt"}


@pytest.fixture(scope="module", params=[False, True], ids=["standard", "fifo"])
def fifo(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(scope="module")
def terraform(fifo: bool) -> Terraform:
    return Terraform(TERRAFORM, fifo=fifo)


@pytest.fixture(scope="module")
def declared(fifo: bool) -> Topology:
    return declare(prefix=PREFIX, fifo=fifo)


def by_name(terraform: Terraform, address: str) -> dict[str, dict[str, Any]]:
    return {body["name"]: body for _, body in terraform.instances(address)}


def named(terraform: Terraform, value: Any) -> Any:
    """``value`` with every reference to a named resource replaced by that name."""
    if isinstance(value, Ref):
        return terraform.name_of(value) if value.attribute in {"arn", "id", "url"} else value
    if isinstance(value, dict):
        return {k: named(terraform, v) for k, v in value.items()}
    if isinstance(value, list):
        return [named(terraform, v) for v in value]
    return value


def single_values(document: Any) -> Any:
    """IAM reads a one-element list as its element; compare policies so."""
    if isinstance(document, dict):
        return {k: single_values(v) for k, v in document.items()}
    if isinstance(document, list):
        items = [single_values(v) for v in document]
        return items[0] if len(items) == 1 else sorted(items, key=str)
    return document


def test_variable_defaults_name_things_as_the_code_does(terraform: Terraform) -> None:
    assert terraform.defaults()["name_prefix"] == PREFIX
    assert terraform.defaults()["fifo"] is False
    [validation] = terraform.variable("name_prefix")["validation"]
    pattern = re.search(r'regex\("(.+)", var.name_prefix\)', validation["condition"])
    assert pattern is not None
    [rule] = Settings.model_fields["name_prefix"].metadata
    assert pattern.group(1).replace("\\\\", "\\") == rule.pattern


def test_topics_are_the_declared_ones(terraform: Terraform, declared: Topology, fifo: bool) -> None:
    topics = by_name(terraform, "aws_sns_topic.this")
    assert set(topics) == set(declared.topics.values())
    assert all(topic["fifo_topic"] is fifo for topic in topics.values())
    assert all("content_based_deduplication" not in topic for topic in topics.values())


def test_queues_and_dlqs_are_the_declared_ones(
    terraform: Terraform, declared: Topology, fifo: bool
) -> None:
    sources = by_name(terraform, "aws_sqs_queue.source")
    dlqs = by_name(terraform, "aws_sqs_queue.dlq")
    assert {name: named(terraform, q["redrive_policy"]) for name, q in sources.items()} == {
        q.name: {"deadLetterTargetArn": q.dlq_name, "maxReceiveCount": q.max_receive_count}
        for q in declared.queues
    }
    assert {
        name: (q["visibility_timeout_seconds"], q["message_retention_seconds"])
        for name, q in sources.items()
    } == {q.name: (q.visibility_timeout_seconds, q.retention_seconds) for q in declared.queues}
    assert {name: q["message_retention_seconds"] for name, q in dlqs.items()} == {
        q.dlq_name: q.dlq_retention_seconds for q in declared.queues
    }
    assert all(q["fifo_queue"] is fifo for q in [*sources.values(), *dlqs.values()])


def test_each_dlq_takes_dead_letters_only_from_its_source(
    terraform: Terraform, declared: Topology
) -> None:
    allowed = {
        terraform.name_of(body["queue_url"]): named(terraform, body["redrive_allow_policy"])
        for _, body in terraform.instances("aws_sqs_queue_redrive_allow_policy.dlq")
    }
    assert allowed == {q.dlq_name: _redrive_allow_policy(q.name) for q in declared.queues}


def test_subscriptions_filter_by_event_type_and_deliver_raw(
    terraform: Terraform, declared: Topology
) -> None:
    subscriptions = {
        (terraform.name_of(body["topic_arn"]), terraform.name_of(body["endpoint"])): body
        for _, body in terraform.instances("aws_sns_topic_subscription.queue")
    }
    assert {pair: body["filter_policy"] for pair, body in subscriptions.items()} == {
        (s.topic, s.queue): s.filter_policy for s in declared.subscriptions
    }
    for body in subscriptions.values():
        assert body["protocol"] == "sqs"
        assert body["raw_message_delivery"] is True
        assert body["filter_policy_scope"] == "MessageAttributes"


def test_queue_policies_let_only_subscribed_topics_send(
    terraform: Terraform, declared: Topology
) -> None:
    policies = {}
    for _, body in terraform.instances("aws_sqs_queue_policy.source"):
        document = terraform.instance(body["policy"])
        policies[terraform.name_of(body["queue_url"])] = named(terraform, policy_json(document))
    expected = {
        queue.name: _queue_policy(
            queue.name, [s.topic for s in declared.subscriptions if s.queue == queue.name]
        )["Statement"]
        for queue in declared.queues
    }
    assert single_values(policies) == single_values(expected)


def test_topic_arns_are_outputs_the_relay_settings_take(terraform: Terraform) -> None:
    outputs = terraform.outputs()
    for topic in Topic:
        setting = f"{topic.value}_topic_arn"
        assert setting in Settings.model_fields
        assert outputs[setting] == Ref("aws_sns_topic.this", topic.value, "arn")


# -- IAM: each role may make the calls its code makes, on its own resources only ------


def code_calls(role: str) -> set[str]:
    """IAM actions for the client calls in the role's code (a batch call needs the
    single action: PublishBatch is sns:Publish)."""
    service, files = ROLE_CODE[role]
    methods = {
        method
        for file in files
        for method in re.findall(rf"\b_?{service}\.([a-z_]+)\(", (ROOT / file).read_text())
    }
    return {
        f"{service}:" + "".join(p.title() for p in m.split("_")).removesuffix("Batch")
        for m in methods
    }


def statements(terraform: Terraform, address: str, key: str | None = None) -> list[dict[str, Any]]:
    return policy_json(dict(terraform.instances(address))[key])


def grants(policy: list[dict[str, Any]]) -> dict[Ref | str, set[str]]:
    """Actions granted per resource."""
    granted: dict[Ref | str, set[str]] = {}
    for statement in policy:
        assert statement["Effect"] == "Allow"
        for resource in statement["Resource"]:
            granted.setdefault(resource, set()).update(statement["Action"])
    return granted


def test_relay_may_only_publish_to_the_topics(terraform: Terraform) -> None:
    granted = grants(statements(terraform, "data.aws_iam_policy_document.relay"))
    key = Ref("aws_kms_key.messaging", None, "arn")
    topics = {Ref("aws_sns_topic.this", topic.value, "arn") for topic in Topic}
    assert granted == {**dict.fromkeys(topics, code_calls("relay")), key: KMS_USES}
    assert code_calls("relay") == {"sns:Publish"}


def test_each_worker_may_only_use_its_own_queue_and_dlq(terraform: Terraform) -> None:
    for name in terraform.defaults()["queues"]:
        granted = grants(statements(terraform, "data.aws_iam_policy_document.worker", name))
        source = Ref("aws_sqs_queue.source", name, "arn")
        dlq = Ref("aws_sqs_queue.dlq", name, "arn")
        assert set(granted) == {source, dlq, Ref("aws_kms_key.messaging", None, "arn")}
        # It sends only poison, to the DLQ; retries change visibility, never re-send.
        assert granted[source] == code_calls("worker") - {"sqs:SendMessage"}
        assert granted[dlq] == {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}


def test_operator_touches_queues_only(terraform: Terraform) -> None:
    granted = grants(statements(terraform, "data.aws_iam_policy_document.operator"))
    queues = {a for a in granted if isinstance(a, Ref) and a.address.startswith("aws_sqs_queue.")}
    assert set(granted) - queues == {Ref("aws_kms_key.messaging", None, "arn")}
    assert all(action.startswith("sqs:") for resource in queues for action in granted[resource])


def test_only_the_key_policy_uses_wildcards(terraform: Terraform) -> None:
    for address in ("relay", "worker", "operator", "topics_send"):
        for _, document in terraform.instances(f"data.aws_iam_policy_document.{address}"):
            rendered = json.dumps(policy_json(document), default=str)
            assert "*" not in rendered, address
