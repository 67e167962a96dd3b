"""Reconciling a gateway's day: read its books (every page, or the run fails), build
ours from the ledger's clearing account, match them (app.domain.reconciliation), store
the run with what did not match, and alert operators unless it is clean.

What names a record on both sides (docs/decisions.md, "Reconciliation"): a charge by
the gateway's id of the paid try (Mercado Pago's payment id, Efí's txid); a refund by
Mercado Pago's refund id as the refund stores it, or, at Efí, by the devolução id we
chose (derived from the refund's id), which Efí lists as the devolução's ``id``; a payout
by the idEnvio of its paid send, which Efí's sent-Pix list names it by. A day
is a calendar day in Brasília time, read with the matcher's tolerance on each side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from app.db.money_models import ReconciliationRun
from app.db.uow import UnitOfWork, UnitOfWorkFactory
from app.domain.alerts import alert
from app.domain.errors import GatewayError
from app.domain.events import EventType
from app.domain.ids import new_id
from app.domain.ledger import EntryKind, clearing_account
from app.domain.reconciliation import (
    DEFAULT_TOLERANCE,
    OurRecord,
    Reconciliation,
    RecordKind,
    RunStatus,
    Window,
    reconcile,
)
from app.gateways.efi import devolucao_id
from app.gateways.port import GatewayName, GatewayRecord, GatewayRecords
from app.gateways.registry import Gateways
from app.reconciliation.repository import (
    ClearingMove,
    LatePaymentMove,
    ReconciliationRepository,
)
from app.reconciliation.schemas import COUNTS, unmatched_items

# Gateways report, and merchants count, in Brasília time (no daylight saving since 2019).
BRASILIA = ZoneInfo("America/Sao_Paulo")
# Operator alerts about runs are the platform's, not a merchant's.
PLATFORM = "platform"
MAX_ERROR_CHARS = 1000


def day_window(day: date, tolerance: timedelta = DEFAULT_TOLERANCE) -> Window:
    """``day`` in Brasília time, as UTC instants."""
    start = datetime.combine(day, time(), BRASILIA)
    end = datetime.combine(day + timedelta(days=1), time(), BRASILIA)
    return Window(start.astimezone(UTC), end.astimezone(UTC), tolerance)


def previous_day(now: datetime) -> date:
    return now.astimezone(BRASILIA).date() - timedelta(days=1)


def _refund_key(gateway: GatewayName, refund_id: str, stored: str | None) -> str:
    """What names a refund at ``gateway``: at Efí the devolução id we chose (listed as
    the devolução's ``id``, known even before Efí answered); else the gateway's
    reference as stored, or our id when none was (it will show unmatched)."""
    if gateway is GatewayName.EFI:
        return devolucao_id(refund_id)
    return stored or refund_id


_KIND_OF_ENTRY = {EntryKind.CHARGE: RecordKind.CHARGE, EntryKind.PAYOUT_PAID: RecordKind.PAYOUT}


def _ours(move: ClearingMove, gateway: GatewayName) -> OurRecord:
    kind = _KIND_OF_ENTRY.get(move.kind)
    if kind is not None:  # named by the gateway's id of the paid try or send, if stored
        reference = move.reference or move.source_id
        return OurRecord(kind, reference, move.amount, move.posted_at, move.source_id)
    reference = _refund_key(gateway, move.source_id, move.reference)
    return OurRecord(RecordKind.REFUND, reference, move.amount, move.posted_at, move.source_id)


def _late(move: LatePaymentMove, gateway: GatewayName) -> list[OurRecord]:
    """A late payment given back: its charge and its refund, both known to us."""
    refund = _refund_key(gateway, move.attempt_id, move.refund_reference)
    return [
        OurRecord(
            RecordKind.CHARGE, move.reference, move.amount, move.refunded_at, move.attempt_id
        ),
        OurRecord(RecordKind.REFUND, refund, move.amount, move.refunded_at, move.attempt_id),
    ]


@dataclass(frozen=True, slots=True)
class OurSide:
    records: list[OurRecord]
    livemode: bool  # some of it is live money
    refunded_charges: frozenset[str]  # the gateway's ids of the charges our refunds return


async def our_side(uow: UnitOfWork, gateway: GatewayName, window: Window) -> OurSide:
    """Our side of the window: every charge, refund and payout paid on the gateway's
    clearing account (any mode), and the late payments we gave back there (not on the
    books)."""
    repository = uow.repository(ReconciliationRepository)
    start, end = window.read_start, window.read_end
    moves = await repository.clearing_moves(clearing_account(gateway.value), start, end)
    late = await repository.late_payments_returned(gateway.value, start, end)
    records = [_ours(m, gateway) for m in moves] + [r for m in late for r in _late(m, gateway)]
    refunded = {m.charge_reference for m in moves if m.charge_reference} | {
        m.reference for m in late
    }
    return OurSide(records, any(m.livemode for m in moves), frozenset(refunded))


async def their_side(books: GatewayRecords, window: Window, ours: OurSide) -> list[GatewayRecord]:
    """The gateway's books for the window, and the charges our refunds return read back by
    id where the window's read did not reach them (a refund today of a Pix paid before)."""
    read = await books.list_records(window.read_start, window.read_end)
    listed = {r.reference for r in read if r.kind is RecordKind.CHARGE}
    unread = sorted(ours.refunded_charges - listed)
    if unread:
        read += await books.charge_records(unread)
    return their_records(books.name, read)


def their_records(gateway: GatewayName, records: list[GatewayRecord]) -> list[GatewayRecord]:
    """What moved money at the gateway (an approved payment or refund, a received Pix, a
    devolução DEVOLVIDO, a send REALIZADO), each Efí devolução named by its id (``our_id``)."""
    settled = [r for r in records if r.settled]
    if gateway is not GatewayName.EFI:
        return settled
    return [
        replace(r, reference=r.our_id) if r.kind is RecordKind.REFUND and r.our_id else r
        for r in settled
    ]


async def reconcile_gateway(
    new_uow: UnitOfWorkFactory,
    books: GatewayRecords,
    day: date,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> ReconciliationRun:
    """Reconcile one gateway's day, store the run, alert unless clean; the stored run."""
    window = day_window(day, tolerance)
    started = datetime.now(UTC)
    async with new_uow() as uow:
        ours = await our_side(uow, books.name, window)
    result: Reconciliation[GatewayRecord] | None = None
    error = None
    try:  # no transaction open while the gateway answers
        result = reconcile(window, ours.records, await their_side(books, window, ours))
    except GatewayError as exc:  # a partial read is never matched
        error = exc.message[:MAX_ERROR_CHARS]
    run = _run(books.name, day, window, started, result, error)
    async with new_uow() as uow:
        uow.repository(ReconciliationRepository).add_run(run)
        if run.status != RunStatus.CLEAN:
            await _alert(uow, run, ours.livemode)
        await uow.commit()
    logger.info("reconciliation.run", run=run.id, gateway=run.gateway, status=run.status)
    return run


def _run(
    gateway: GatewayName,
    day: date,
    window: Window,
    started: datetime,
    result: Reconciliation[GatewayRecord] | None,
    error: str | None,
) -> ReconciliationRun:
    counts = dict.fromkeys(COUNTS, 0)
    items: list[dict[str, Any]] = []
    status = RunStatus.FAILED
    if result is not None:
        counts = {name: getattr(result.summary, name) for name in COUNTS}
        items = unmatched_items(result)
        status = RunStatus.CLEAN if result.clean else RunStatus.UNMATCHED
    return ReconciliationRun(
        id=new_id("rec"),
        gateway=gateway.value,
        day=day,
        status=status.value,
        window_start=window.start,
        window_end=window.end,
        started_at=started,
        finished_at=datetime.now(UTC),
        error=error,
        items=items,
        **counts,
    )


async def _alert(uow: UnitOfWork, run: ReconciliationRun, livemode: bool) -> None:
    facts = {
        "run": run.id,
        "gateway": run.gateway,
        "day": run.day.isoformat(),
        "status": run.status,
        "error": run.error,
        "unmatched": len(run.items),
        "missing_ours": run.missing_ours,
        "missing_theirs": run.missing_theirs,
        "amount_mismatch": run.amount_mismatch,
        "duplicates": run.duplicates,
        "difference": run.difference,
    }
    logger.error("reconciliation.not_clean", **facts)
    about = f"reconciliation_{run.gateway}"
    await uow.outbox.add_alert(
        alert(EventType.ALERT_RECONCILIATION_UNMATCHED, about, facts),
        merchant_id=PLATFORM,
        livemode=livemode,
    )


def books_of(gateways: Gateways, only: GatewayName | None = None) -> list[GatewayRecords]:
    """The configured gateways whose books can be read (``only`` that one)."""
    found = [g for g in gateways.by_name.values() if isinstance(g, GatewayRecords)]
    return [g for g in found if only is None or g.name is only]


async def reconcile_day(
    new_uow: UnitOfWorkFactory,
    gateways: Gateways,
    day: date,
    *,
    only: GatewayName | None = None,
    retry_after: timedelta | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> list[ReconciliationRun]:
    """Reconcile ``day`` at every configured gateway (or ``only``). With ``retry_after``
    (the daily job), a gateway's day is left alone once it has a clean run, and retried
    only that long after its last run; without it (the command), always run."""
    runs = []
    for books in books_of(gateways, only):
        if retry_after is not None:
            since = datetime.now(UTC) - retry_after
            async with new_uow() as uow:
                repository = uow.repository(ReconciliationRepository)
                if await repository.settled_or_recent(books.name.value, day, since):
                    continue
        runs.append(await reconcile_gateway(new_uow, books, day, tolerance=tolerance))
    return runs


async def get_run(uow: UnitOfWork, run_id: str) -> ReconciliationRun | None:
    return await uow.repository(ReconciliationRepository).get_run(run_id)
