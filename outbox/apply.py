"""Make an SNS/SQS endpoint match the declared topology; idempotent.

Uses boto3 (an operator tool, not a hot path). Every resource is compared with
its declaration and only differences are written, so a second run reports
nothing but "unchanged".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from outbox.topology import QueueSpec, SubscriptionSpec, Topology

Action = Literal["created", "updated", "unchanged", "deleted", "absent"]
# Attributes that hold JSON documents: compared parsed, not as strings.
_JSON_ATTRIBUTES = {"RedrivePolicy", "RedriveAllowPolicy", "Policy", "FilterPolicy"}
# Attributes SQS refuses to change after creation.
_CREATE_ONLY = {"FifoQueue"}


@dataclass(frozen=True, slots=True)
class Change:
    action: Action
    kind: str
    name: str
    detail: str = ""


def _differences(desired: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    def same(key: str) -> bool:
        if key not in current:
            return False
        if key in _JSON_ATTRIBUTES:
            return bool(
                _normalized(json.loads(desired[key])) == _normalized(json.loads(current[key]))
            )
        return desired[key].lower() == current[key].lower()

    return {k: v for k, v in desired.items() if k not in _CREATE_ONLY and not same(k)}


def _normalized(document: Any) -> Any:
    """JSON with numbers as strings: SQS echoes maxReceiveCount back as either."""
    if isinstance(document, dict):
        return {k: _normalized(v) for k, v in document.items()}
    if isinstance(document, list):
        return [_normalized(v) for v in document]
    return str(document)


class TopologyApplier:
    def __init__(self, topology: Topology, sns: Any, sqs: Any) -> None:
        self._topology = topology
        self._sns = sns
        self._sqs = sqs
        self.changes: list[Change] = []
        # Attributes an endpoint accepted but does not keep, by queue URL (see _update_queue).
        self._ignored: dict[str, set[str]] = {}

    def apply(self) -> list[Change]:
        existing = {
            topic["TopicArn"].rsplit(":", 1)[-1]
            for page in self._sns.get_paginator("list_topics").paginate()
            for topic in page["Topics"]
        }
        topic_arns = {
            name: self._ensure_topic(name, name in existing)
            for name in self._topology.topics.values()
        }
        for queue in self._topology.queues:
            self._ensure_queue_pair(queue, self._publishing_topics(queue, topic_arns))
        for subscription in self._topology.subscriptions:
            self._ensure_subscription(subscription, topic_arns[subscription.topic])
        return self.changes

    def destroy(self) -> list[Change]:
        """Delete every topic, queue and DLQ of the topology (a topic's subscriptions go
        with it): the teardown of a dev or test stack. A second run reports "absent"."""
        existing = {
            topic["TopicArn"].rsplit(":", 1)[-1]: topic["TopicArn"]
            for page in self._sns.get_paginator("list_topics").paginate()
            for topic in page["Topics"]
        }
        for name in self._topology.topics.values():
            if name in existing:
                self._sns.delete_topic(TopicArn=existing[name])
            self.changes.append(Change("deleted" if name in existing else "absent", "topic", name))
        for queue in self._topology.queues:
            for name in (queue.name, queue.dlq_name):
                self.changes.append(Change(self._delete_queue(name), "queue", name))
        return self.changes

    def _delete_queue(self, name: str) -> Action:
        try:
            url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except self._sqs.exceptions.QueueDoesNotExist:
            return "absent"
        self._sqs.delete_queue(QueueUrl=url)
        return "deleted"

    def _publishing_topics(self, queue: QueueSpec, topic_arns: dict[str, str]) -> list[str]:
        return sorted(
            {topic_arns[s.topic] for s in self._topology.subscriptions if s.queue == queue.name}
        )

    def _ensure_topic(self, name: str, exists: bool) -> str:
        attributes = (
            {"FifoTopic": "true", "ContentBasedDeduplication": "false"}
            if self._topology.fifo
            else {}
        )
        arn: str = self._sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self.changes.append(Change("unchanged" if exists else "created", "topic", name))
        return arn

    def _ensure_queue_pair(self, queue: QueueSpec, topic_arns: list[str]) -> None:
        fifo = (
            {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
            if self._topology.fifo
            else {}
        )
        dlq_url, dlq_arn, dlq_action = self._ensure_queue(
            queue.dlq_name, {**fifo, "MessageRetentionPeriod": str(queue.dlq_retention_seconds)}
        )
        source_url, source_arn, source_action = self._ensure_queue(
            queue.name,
            {
                **fifo,
                "VisibilityTimeout": str(queue.visibility_timeout_seconds),
                "MessageRetentionPeriod": str(queue.retention_seconds),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                ),
            },
        )
        # Both policies name the source queue's ARN, known only once it exists.
        source_action = self._update_queue(
            source_url, source_action, {"Policy": json.dumps(_queue_policy(source_arn, topic_arns))}
        )
        dlq_action = self._update_queue(
            dlq_url,
            dlq_action,
            {"RedriveAllowPolicy": json.dumps(_redrive_allow_policy(source_arn))},
        )
        for action, name, url in (
            (dlq_action, queue.dlq_name, dlq_url),
            (source_action, queue.name, source_url),
        ):
            self.changes.append(Change(action, "queue", name, self._ignored_note(url)))

    def _ensure_queue(self, name: str, desired: dict[str, str]) -> tuple[str, str, Action]:
        try:
            url: str = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except self._sqs.exceptions.QueueDoesNotExist:
            url = self._sqs.create_queue(QueueName=name, Attributes=desired)["QueueUrl"]
            return url, self._queue_arn(url), "created"
        return url, self._queue_arn(url), self._update_queue(url, "unchanged", desired)

    def _update_queue(self, url: str, action: Action, desired: dict[str, str]) -> Action:
        diff = _differences(desired, self._attributes(url))
        if not diff:
            return action
        self._sqs.set_queue_attributes(QueueUrl=url, Attributes=diff)
        # moto accepts RedriveAllowPolicy and drops it. Say so rather than report an
        # update on every run.
        ignored = set(diff) - set(self._attributes(url))
        self._ignored.setdefault(url, set()).update(ignored)
        if ignored == set(diff):
            return action
        return "created" if action == "created" else "updated"

    def _attributes(self, url: str) -> dict[str, str]:
        response = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        attributes: dict[str, str] = response.get("Attributes", {})
        return attributes

    def _ignored_note(self, url: str) -> str:
        ignored = self._ignored.get(url)
        return f"endpoint ignores {', '.join(sorted(ignored))}" if ignored else ""

    def _queue_arn(self, url: str) -> str:
        attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        arn: str = attributes["Attributes"]["QueueArn"]
        return arn

    def _ensure_subscription(self, spec: SubscriptionSpec, topic_arn: str) -> None:
        queue_url = self._sqs.get_queue_url(QueueName=spec.queue)["QueueUrl"]
        queue_arn = self._queue_arn(queue_url)
        desired = {
            "RawMessageDelivery": "true",
            "FilterPolicyScope": "MessageAttributes",
            "FilterPolicy": json.dumps(spec.filter_policy),
        }
        label = f"{spec.topic} -> {spec.queue}"
        existing = self._find_subscription(topic_arn, queue_arn)
        if existing is None:
            self._sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes=desired,
                ReturnSubscriptionArn=True,
            )
            self.changes.append(Change("created", "subscription", label))
            return
        current = self._sns.get_subscription_attributes(SubscriptionArn=existing)["Attributes"]
        diff = _differences(desired, current)
        for key, value in diff.items():
            self._sns.set_subscription_attributes(
                SubscriptionArn=existing, AttributeName=key, AttributeValue=value
            )
        self.changes.append(
            Change("updated" if diff else "unchanged", "subscription", label, ",".join(diff))
        )

    def _find_subscription(self, topic_arn: str, queue_arn: str) -> str | None:
        for page in self._sns.get_paginator("list_subscriptions_by_topic").paginate(
            TopicArn=topic_arn
        ):
            for subscription in page["Subscriptions"]:
                if subscription["Protocol"] == "sqs" and subscription["Endpoint"] == queue_arn:
                    arn: str = subscription["SubscriptionArn"]
                    return arn
        return None


def _redrive_allow_policy(source_arn: str) -> dict[str, Any]:
    """Only the DLQ's own source queue may dead-letter into it."""
    return {"redrivePermission": "byQueue", "sourceQueueArns": [source_arn]}


def _queue_policy(queue_arn: str, topic_arns: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "topics-send",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arns}},
            }
        ],
    }
