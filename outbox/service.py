"""Running the relay as a process, and the topology/outbox commands' work."""

from __future__ import annotations

from typing import Any

from app.aws import async_client, sync_client
from app.aws.client import AwsClient
from app.domain.events import Topic
from app.roles import background_role, when_reachable
from app.settings import Settings, libpq_url
from outbox.apply import Change, TopologyApplier
from outbox.relay import Relay, RelayOptions
from outbox.topology import Topology, declare


def topology_of(settings: Settings) -> Topology:
    return declare(prefix=settings.name_prefix, fifo=settings.fifo)


def apply_topology(settings: Settings) -> list[Change]:
    return _applier(settings).apply()


def destroy_topology(settings: Settings) -> list[Change]:
    return _applier(settings).destroy()


def _applier(settings: Settings) -> TopologyApplier:
    return TopologyApplier(
        topology_of(settings), sync_client("sns", settings), sync_client("sqs", settings)
    )


async def resolve_topic_arns(sns: AwsClient, settings: Settings) -> dict[str, str]:
    """Configured ARNs win; otherwise find the topics by name (needs sns:ListTopics)."""
    configured = {Topic.EVENTS: settings.events_topic_arn, Topic.ALERTS: settings.alerts_topic_arn}
    wanted = topology_of(settings).topics
    arns = {topic.value: arn for topic, arn in configured.items() if arn}
    if len(arns) < len(wanted):
        by_name = {arn.rsplit(":", 1)[-1]: arn for arn in await _all_topic_arns(sns)}
        for topic, name in wanted.items():
            if topic.value not in arns:
                if name not in by_name:
                    raise SystemExit(f"topic {name} not found: run `pixwave topology apply`")
                arns[topic.value] = by_name[name]
    return arns


async def _all_topic_arns(sns: AwsClient) -> list[str]:
    arns: list[str] = []
    page: dict[str, Any] = {}
    while True:
        page = await sns.list_topics(**({"NextToken": page["NextToken"]} if page else {}))
        arns += [item["TopicArn"] for item in page.get("Topics", [])]
        if "NextToken" not in page:
            return arns


async def serve_relay(settings: Settings) -> None:
    assert settings.database_url is not None
    async with (
        background_role(settings, metrics_port=settings.relay_metrics_port) as (engine, stop),
        async_client("sns", settings) as sns,
    ):
        topic_arns = await when_reachable(
            lambda: resolve_topic_arns(sns, settings), stop, role="relay"
        )
        if topic_arns is None:
            return
        relay = Relay(
            engine=engine,
            listen_url=libpq_url(settings.database_url),
            sns=sns,
            topic_arns=topic_arns,
            options=RelayOptions(
                batch_size=settings.relay_batch_size,
                lanes=settings.relay_lanes,
                poll_seconds=settings.relay_poll_seconds,
                gather_seconds=settings.relay_gather_seconds,
                retention=settings.outbox_retention,
                fifo=settings.fifo,
            ),
        )
        await relay.run(stop)
