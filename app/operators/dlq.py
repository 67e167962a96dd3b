"""Redrive and purge. A redrive of everything uses a message move task where the
endpoint has them; otherwise, and for any selection, messages go by hand: receive →
send to the source queue → delete, so nothing is deleted before its copy is sent.

A run by hand moves each message at most once. Every copy it sends back carries
``pixwave_redrive_run`` (the run id and the DLQ message id it came from); SQS keeps
message attributes when its redrive policy dead-letters a message, and so does the
worker's own dead-lettering, so a copy that fails again comes back recognisable: the
run counts it as failed again, leaves it in the DLQ and, once a receive brings nothing
else, ends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from app.aws import AWS_CALL_ERRORS, sync_client
from app.operators.queues import (
    DeadLetter,
    QueuePair,
    depth,
    queue_arn,
    read_dead_letter,
    receive,
    release,
)
from app.settings import Settings
from workers.runtime.dead_letters import (
    REASON_ATTRIBUTE,
    SOURCE_MESSAGE_ID_ATTRIBUTE,
    SOURCE_QUEUE_ATTRIBUTE,
)
from workers.runtime.queues import MAX_RECEIVE_BATCH

# Messages a scan passes over stay hidden until it ends, or at most this long.
REDRIVE_HOLD_SECONDS = 300
MOVE_TASK_POLL_SECONDS = 1.0
MOVE_TASK_RUNNING = "RUNNING"
MOVE_TASK_FINISHED = frozenset({"COMPLETED", "CANCELLED", "FAILED"})
# How an endpoint without message move tasks answers: moto with a bare HTTP 500 page
# (no SQS error, so botocore reports the status as the code), others with these codes.
_UNSUPPORTED_CODES = frozenset({"NotImplemented", "InvalidAction", "UnsupportedOperation"})
# "<run id> <DLQ message id>" on every copy a redrive by hand sends back.
REDRIVE_RUN_ATTRIBUTE = "pixwave_redrive_run"
# What the worker and a redrive add to a message: not part of the message sent back.
_ANNOTATIONS = frozenset(
    {REASON_ATTRIBUTE, SOURCE_QUEUE_ATTRIBUTE, SOURCE_MESSAGE_ID_ATTRIBUTE, REDRIVE_RUN_ATTRIBUTE}
)

# moved: sent to the source and deleted from the DLQ; copied: sent, but the delete
# failed, so a duplicate stays in the DLQ; failed: not sent, still in the DLQ;
# failed again: a copy this run sent back, dead-lettered again, left in the DLQ.
Outcome = Literal["moved", "would move", "skipped", "failed", "copied", "failed again"]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which messages to redrive: all, or those of these event types and/or ids (a
    DLQ message id, the source message id, or the event id)."""

    event_types: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return not self.event_types and not self.ids

    def matches(self, letter: DeadLetter) -> bool:
        of_type = not self.event_types or letter.event_type in self.event_types
        named = not self.ids or bool(
            self.ids & {letter.message_id, letter.source_message_id, letter.event_id}
        )
        return of_type and named


@dataclass(frozen=True, slots=True)
class RedriveResult:
    letter: DeadLetter
    outcome: Outcome
    error: str | None = None


class Pacer:
    """``wait()`` returns at most ``per_second`` times a second (no limit when None)."""

    def __init__(
        self,
        per_second: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1 / per_second if per_second else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")

    def wait(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def is_copy_of_run(letter: DeadLetter, run_id: str) -> bool:
    marker = letter.attribute(REDRIVE_RUN_ATTRIBUTE)
    return marker is not None and marker.split(" ", 1)[0] == run_id


def send_back_request(
    letter: DeadLetter, source_url: str, run_id: str | None = None
) -> dict[str, Any]:
    """SendMessage arguments that put the message back as it first came: body and
    attributes (without the worker's annotations), and its FIFO group; marked with
    the run when there is one."""
    message = letter.message
    attributes = {
        name: value
        for name, value in message.get("MessageAttributes", {}).items()
        if name not in _ANNOTATIONS
    }
    if run_id is not None:
        marker = f"{run_id} {letter.message_id}"
        attributes[REDRIVE_RUN_ATTRIBUTE] = {"DataType": "String", "StringValue": marker}
    request: dict[str, Any] = {"QueueUrl": source_url, "MessageBody": message["Body"]}
    if attributes:
        request["MessageAttributes"] = attributes
    group = message["Attributes"].get("MessageGroupId")
    if group is not None:
        # Not the original deduplication id: SQS would drop the copy unseen when the
        # original was sent less than 5 minutes ago. The DLQ message's id is unique,
        # and a redrive run again after dying between send and delete reuses it, so
        # SQS drops that second copy instead.
        request |= {"MessageGroupId": group, "MessageDeduplicationId": letter.message_id}
    return request


def redrive_by_hand(
    sqs: Any,
    pair: QueuePair,
    selection: Selection,
    *,
    dry_run: bool,
    pacer: Pacer,
    on_result: Callable[[RedriveResult], None],
    run_id: str,
    stopping: Callable[[], bool] = lambda: False,
) -> list[RedriveResult]:
    """Scan the DLQ once; every message gets a result, and whatever stays in the DLQ
    is visible again when the scan ends, or stops because ``stopping()`` said so.

    A message is sent to the source, then deleted from the DLQ, and ``stopping`` is
    asked only between messages, so a stop never falls between the two. Only a death
    there (SIGKILL, power) leaves a copy in both queues; consumers deduplicate by
    event id in their inbox, and on FIFO queues the copy's deduplication id is the
    DLQ message id, so a second run within 5 minutes sends nothing new."""
    results: list[RedriveResult] = []
    held: list[dict[str, Any]] = []  # received and still in the DLQ: given back at the end
    seen: set[str] = set()
    try:
        while not stopping() and (
            batch := receive(
                sqs, pair.dlq_url, MAX_RECEIVE_BATCH, hold_seconds=REDRIVE_HOLD_SECONDS
            )
        ):
            held += batch
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:  # the hold ran out and the scan came round again
                break
            for message in fresh:
                if stopping():
                    break
                seen.add(message["MessageId"])
                result = _redrive_one(
                    sqs, pair, read_dead_letter(message), selection, dry_run, pacer, run_id
                )
                if result.outcome == "moved":
                    held.remove(message)
                results.append(result)
                on_result(result)
    finally:
        release(sqs, pair.dlq_url, held)
    return results


def _redrive_one(
    sqs: Any,
    pair: QueuePair,
    letter: DeadLetter,
    selection: Selection,
    dry_run: bool,
    pacer: Pacer,
    run_id: str,
) -> RedriveResult:
    if is_copy_of_run(letter, run_id):
        return RedriveResult(letter, "failed again", letter.carried_reason)
    if not selection.matches(letter):
        return RedriveResult(letter, "skipped")
    if dry_run:
        return RedriveResult(letter, "would move")
    pacer.wait()
    try:
        sqs.send_message(**send_back_request(letter, pair.source_url, run_id))
    except AWS_CALL_ERRORS as exc:
        return RedriveResult(letter, "failed", str(exc))
    try:
        sqs.delete_message(QueueUrl=pair.dlq_url, ReceiptHandle=letter.message["ReceiptHandle"])
    except AWS_CALL_ERRORS as exc:
        return RedriveResult(letter, "copied", str(exc))
    return RedriveResult(letter, "moved")


@dataclass(frozen=True, slots=True)
class MoveTask:
    handle: str
    dlq_arn: str


@dataclass(frozen=True, slots=True)
class MoveTaskStatus:
    status: str
    moved: int
    to_move: int | None
    failure: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in MOVE_TASK_FINISHED


def start_move_task(settings: Settings, pair: QueuePair, per_second: int | None) -> MoveTask | None:
    """A message move task from the DLQ to its source; None when the endpoint has none."""
    # No retries: botocore would retry moto's HTTP 500 for seconds before we fall back.
    sqs = sync_client("sqs", settings, retries=False)
    dlq_arn = queue_arn(sqs, pair.dlq_url)
    request: dict[str, Any] = {
        "SourceArn": dlq_arn,
        "DestinationArn": queue_arn(sqs, pair.source_url),
    }
    if per_second is not None:
        request["MaxNumberOfMessagesPerSecond"] = per_second
    try:
        handle: str = sqs.start_message_move_task(**request)["TaskHandle"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _UNSUPPORTED_CODES or code.isdigit():
            return None
        raise
    return MoveTask(handle, dlq_arn)


def move_task_status(sqs: Any, task: MoveTask) -> MoveTaskStatus:
    [latest] = sqs.list_message_move_tasks(SourceArn=task.dlq_arn, MaxResults=1)["Results"]
    return MoveTaskStatus(
        status=latest["Status"],
        moved=int(latest.get("ApproximateNumberOfMessagesMoved", 0)),
        to_move=latest.get("ApproximateNumberOfMessagesToMove"),
        failure=latest.get("FailureReason"),
    )


def watch_move_task(
    sqs: Any, task: MoveTask, on_status: Callable[[MoveTaskStatus], None]
) -> MoveTaskStatus:
    while True:
        status = move_task_status(sqs, task)
        on_status(status)
        if status.finished:
            return status
        time.sleep(MOVE_TASK_POLL_SECONDS)


def cancel_move_task(
    sqs: Any, task: MoveTask, on_status: Callable[[MoveTaskStatus], None]
) -> MoveTaskStatus:
    """Stop a running task and wait until it stops; messages moved stay moved."""
    if move_task_status(sqs, task).status == MOVE_TASK_RUNNING:
        # Only a running task can be cancelled (LocalStack wedges a finished one in
        # CANCELLING); it may still finish first, which the error then says.
        with suppress(ClientError):
            sqs.cancel_message_move_task(TaskHandle=task.handle)
    return watch_move_task(sqs, task, on_status)


def purge(sqs: Any, pair: QueuePair) -> int:
    """Delete every message of the DLQ; returns about how many there were."""
    visible, in_flight, delayed = depth(sqs, pair.dlq_url)
    sqs.purge_queue(QueueUrl=pair.dlq_url)
    return visible + in_flight + delayed
