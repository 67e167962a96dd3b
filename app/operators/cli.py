"""`pixwave dlq …` and `pixwave queues stats`: arguments and printing only; the work
is in app/operators/queues.py, ledger.py and dlq.py."""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from app.aws import AWS_CALL_ERRORS, sync_client
from app.cli_support import load_settings, operator_message
from app.domain.errors import InvalidRequest, PixWaveError
from app.operators.dlq import (
    MoveTask,
    MoveTaskStatus,
    Pacer,
    RedriveResult,
    Selection,
    cancel_move_task,
    new_run_id,
    purge,
    redrive_by_hand,
    start_move_task,
    watch_move_task,
)
from app.operators.ledger import Reason, read_ledger, reason_for
from app.operators.queues import (
    DeadLetter,
    QueuePair,
    QueueStats,
    all_stats,
    depth,
    dlq_stats,
    find_spec,
    locate,
    peek,
    read_dead_letter,
)
from app.settings import Settings
from outbox.service import topology_of
from outbox.topology import QueueSpec

dlq_cli = typer.Typer(help="Dead-letter queues: look inside, redrive, purge.", no_args_is_help=True)
queues_cli = typer.Typer(help="The SQS queues of the topology.", no_args_is_help=True)

MAX_PEEK_MESSAGES = 100  # peeked messages stay hidden while the rest are fetched
MAX_MOVE_RATE_PER_SECOND = 500  # StartMessageMoveTask's limit
INTERRUPTED_EXIT_CODE = 130  # as a shell reports SIGINT
_AGE_UNITS = (("d", 86400), ("h", 3600), ("min", 60))

QueueArgument = Annotated[
    str, typer.Argument(help="A DLQ by full name (pixwave-charge-dlq) or base name (charge)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout")]


def _console() -> Console:
    # Long lines stay whole when piped: each message is one greppable line.
    return Console(soft_wrap=True, highlight=False)


def _fail(message: str, exit_code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(exit_code)


@contextmanager
def _failing_cleanly() -> Iterator[None]:
    """Errors an operator can act on, as one line on stderr: bad input exits 2, the rest 1."""
    try:
        yield
    except InvalidRequest as exc:
        _fail(exc.message, 2)
    except PixWaveError as exc:
        _fail(exc.message, 1)
    except AWS_CALL_ERRORS as exc:
        _fail(operator_message(exc) or f"SQS: {exc}", 1)


def _named_dlq(queue: str) -> tuple[Settings, QueueSpec]:
    settings = load_settings()
    with _failing_cleanly():
        return settings, find_spec(topology_of(settings), settings.name_prefix, queue)


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in _AGE_UNITS:
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _print_stats(stats: list[QueueStats], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([asdict(s) for s in stats], indent=2))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("queue", no_wrap=True)
    table.add_column("source", no_wrap=True)  # of a DLQ
    for number in ("visible", "in flight", "delayed", "oldest"):
        table.add_column(number, justify="right", no_wrap=True)
    for s in stats:
        table.add_row(
            s.queue,
            s.dead_letter_for or "",
            str(s.visible),
            str(s.in_flight),
            str(s.delayed),
            age_text(s.oldest_age_seconds),
        )
    console = _console()
    console.print(table)
    console.print(
        "oldest: the earliest SentTimestamp of up to 10 messages peeked (and given back);"
        " source queues are not peeked (see docs/operations.md)."
    )


@dlq_cli.command("ls")
def dlq_ls(as_json: JsonOption = False) -> None:
    """Every DLQ with its source queue, depth and the age of its oldest message."""
    settings = load_settings()
    with _failing_cleanly():
        stats = dlq_stats(sync_client("sqs", settings), topology_of(settings))
    _print_stats(stats, as_json)


@queues_cli.command("stats")
def queues_stats(as_json: JsonOption = False) -> None:
    """Visible, in flight, delayed and (DLQs) oldest message, for every queue."""
    settings = load_settings()
    with _failing_cleanly():
        stats = all_stats(sync_client("sqs", settings), topology_of(settings))
    _print_stats(stats, as_json)


def _letter_json(letter: DeadLetter, reason: Reason) -> dict[str, Any]:
    return {
        "message_id": letter.message_id,
        "source_message_id": letter.source_message_id,
        "event_id": letter.event_id,
        "event_type": letter.event_type,
        "aggregate_id": letter.aggregate_id,
        "receive_count": letter.receive_count,
        "sent_at": datetime.fromtimestamp(letter.sent_at, UTC).isoformat(),
        "reason": reason.text,
        "reason_source": reason.source,
        "failures": reason.failures,
        "consumer": reason.consumer,
    }


def _letter_line(letter: DeadLetter) -> str:
    return f"{letter.message_id}  {letter.event_type or '-'}  {letter.event_id or '-'}"


@dlq_cli.command("peek")
def dlq_peek(
    queue: QueueArgument,
    count: Annotated[
        int, typer.Option("-n", min=1, max=MAX_PEEK_MESSAGES, help="How many messages")
    ] = 10,
    as_json: JsonOption = False,
) -> None:
    """Messages with their event, receive count and why they failed; they stay in the DLQ."""
    settings, spec = _named_dlq(queue)
    with _failing_cleanly():
        sqs = sync_client("sqs", settings)
        pair = locate(sqs, spec)
        letters = [read_dead_letter(m) for m in peek(sqs, pair.dlq_url, count)]
    ledger = read_ledger(settings, pair.source, letters)
    reasons = [reason_for(letter, ledger) for letter in letters]
    if as_json:
        document = {
            "queue": pair.dlq,
            "source": pair.source,
            "ledger_unavailable": ledger.unavailable,
            "messages": [_letter_json(*shown) for shown in zip(letters, reasons, strict=True)],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    if ledger.unavailable:
        typer.echo(f"note: failure ledger not read: {ledger.unavailable}", err=True)
    typer.echo(f"{pair.dlq} (dead letters of {pair.source}): {len(letters)} shown, left in place")
    for letter, reason in zip(letters, reasons, strict=True):
        age = age_text(datetime.now(UTC).timestamp() - letter.sent_at)
        typer.echo(f"{_letter_line(letter)}  receives {letter.receive_count}  age {age}")
        failures = f", failures {reason.failures}" if reason.failures else ""
        typer.echo(f"    reason ({reason.source}{failures}): {reason.text}")


@dlq_cli.command("redrive")
def dlq_redrive(
    queue: QueueArgument,
    max_per_second: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_MOVE_RATE_PER_SECOND, help="Messages moved per second"),
    ] = None,
    event_types: Annotated[
        list[str] | None, typer.Option("--event-type", help="Only events of this type")
    ] = None,
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="Only this message (DLQ or source message id, or event id)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, move nothing")] = False,
) -> None:
    """Send messages back to their source queue: all of them by a message move task
    where the endpoint has them, otherwise (and for any selection) one by one."""
    settings, spec = _named_dlq(queue)
    selection = Selection(frozenset(event_types or ()), frozenset(ids or ()))
    with _failing_cleanly():
        sqs = sync_client("sqs", settings)
        pair = locate(sqs, spec)
        if selection.everything and not dry_run:
            task = start_move_task(settings, pair, max_per_second)
            if task is not None:
                _follow_move_task(sqs, pair, task)
                return
            typer.echo("this endpoint has no message move tasks: moving one by one", err=True)
        _redrive_by_hand(sqs, pair, selection, dry_run=dry_run, pacer=Pacer(max_per_second))


def _progress() -> Progress:
    console = _console()
    # Only on a terminal, and gone when done: what stays is one line per message.
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _follow_move_task(sqs: Any, pair: QueuePair, task: MoveTask) -> None:
    typer.echo(f"message move task started: {pair.dlq} -> {pair.source}")
    with _progress() as progress:
        bar = progress.add_task("starting", total=None)

        def show(status: MoveTaskStatus) -> None:
            progress.update(
                bar, description=status.status.lower(), completed=status.moved, total=status.to_move
            )

        interrupted = False
        try:
            final = watch_move_task(sqs, task, show)
        except KeyboardInterrupt:
            interrupted = True
            final = cancel_move_task(sqs, task, show)
    failure = f" ({final.failure})" if final.failure else ""
    typer.echo(f"move task {final.status.lower()}: {final.moved} moved{failure}")
    if final.status != "COMPLETED":
        raise typer.Exit(INTERRUPTED_EXIT_CODE if interrupted else 1)


def _result_line(result: RedriveResult) -> str:
    error = f": {result.error}" if result.error else ""
    return f"{result.outcome:<12}  {_letter_line(result.letter)}{error}"


@contextmanager
def _sigint_as_request() -> Iterator[threading.Event]:
    """Ctrl-C sets the event instead of raising wherever the code happens to be (only
    the main thread receives signals; called from another, nothing is changed)."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = signal.signal(signal.SIGINT, lambda *_: requested.set())
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


def _redrive_by_hand(
    sqs: Any, pair: QueuePair, selection: Selection, *, dry_run: bool, pacer: Pacer
) -> None:
    visible, _, _ = depth(sqs, pair.dlq_url)
    outcomes: Counter[str] = Counter()
    with _sigint_as_request() as interrupted, _progress() as progress:
        bar = progress.add_task("dry run" if dry_run else "redriving", total=visible or None)

        def show(result: RedriveResult) -> None:
            outcomes[result.outcome] += 1
            progress.advance(bar)
            if result.outcome != "skipped":
                progress.console.print(_result_line(result), markup=False)

        redrive_by_hand(
            sqs,
            pair,
            selection,
            dry_run=dry_run,
            pacer=pacer,
            on_result=show,
            run_id=new_run_id(),
            stopping=interrupted.is_set,
        )
    typer.echo(_summary(outcomes, dry_run))
    if interrupted.is_set():
        _fail(
            f"interrupted; what is not listed as moved is still in {pair.dlq}, visible",
            INTERRUPTED_EXIT_CODE,
        )
    if outcomes["failed again"]:
        typer.echo(
            f"{outcomes['failed again']} moved back failed again and are in {pair.dlq}:"
            f" see `pixwave dlq peek {pair.dlq}`",
            err=True,
        )
    if outcomes["failed"] or outcomes["copied"]:
        raise typer.Exit(1)


def _summary(outcomes: Counter[str], dry_run: bool) -> str:
    counts = ", ".join(f"{outcome} {n}" for outcome, n in sorted(outcomes.items())) or "empty"
    return f"dry run, nothing changed: {counts}" if dry_run else counts


@dlq_cli.command("purge")
def dlq_purge(
    queue: QueueArgument,
    yes: Annotated[bool, typer.Option("--yes", help="The messages are gone for good")] = False,
) -> None:
    """Delete every message of a DLQ (SQS allows one purge per queue a minute)."""
    settings, spec = _named_dlq(queue)
    if not yes:
        _fail(f"purging deletes every message of {spec.dlq_name} for good: add --yes", 2)
    with _failing_cleanly():
        sqs = sync_client("sqs", settings)
        pair = locate(sqs, spec)
        count = purge(sqs, pair)
    typer.echo(f"purged {pair.dlq}: about {count} messages deleted")
