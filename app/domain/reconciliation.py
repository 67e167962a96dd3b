"""Our records of a day against a gateway's: what matches, what either side lacks, and
what disagrees. Pure: the records come in, a Reconciliation comes out.

The rules (docs/gateways/payouts-and-reconciliation.md, "Matching"):

- A record is named by its kind and the gateway's reference (what our attempts,
  refunds and payout attempts store: a payout by its idEnvio); amounts are compared
  to the centavo.
- Each pair belongs to the day of the gateway's ``occurred_at`` (when the money moved),
  so a pair is reported on one day only; a record on one side only belongs to the day
  of its own ``occurred_at``.
- Times on the two sides differ (a cob made at 23:59 and paid at 00:01, a search that
  lags), so both sides must be given for the window widened by ``tolerance`` on each
  side: a twin found up to that far outside the window still matches, and a record of
  the margin that belongs to a neighbouring day is counted in ``outside_window`` and
  left to that day. A twin further away than the tolerance is out of that day's sight:
  the day shows it missing (not clean), never clean by accident.
- A reference listed more than once with different contents on one side is a
  duplicate: all the records of that reference, on both sides, are reported as such,
  none is matched, and the day is not clean.
  The same record read twice (two sweeps of one window) counts once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

# Wider than a Pix charge's default lifetime (an hour between our cob and its payment)
# and than Mercado Pago's search lag seen in practice within a run.
DEFAULT_TOLERANCE = timedelta(hours=2)


class RecordKind(StrEnum):
    CHARGE = "charge"
    REFUND = "refund"
    PAYOUT = "payout"  # a Pix sent, named by its idEnvio


class RunStatus(StrEnum):
    """What a stored run of a gateway's day says."""

    CLEAN = "clean"  # every record of the day matched
    UNMATCHED = "unmatched"  # some did not: operators resolve them
    FAILED = "failed"  # the gateway's books could not be read whole: nothing was matched


class Recorded(Protocol):
    """What the matcher reads of a record, ours or the gateway's."""

    @property
    def kind(self) -> RecordKind: ...

    @property
    def reference(self) -> str: ...

    @property
    def amount(self) -> int: ...

    @property
    def occurred_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class OurRecord:
    kind: RecordKind
    reference: str  # the gateway's id as our attempt or refund stores it
    amount: int  # centavos
    occurred_at: datetime
    our_id: str | None = None  # att_…, re_…


Theirs = TypeVar("Theirs", bound=Recorded)


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)``, aware datetimes; ``tolerance`` widens it for looking up twins."""

    start: datetime
    end: datetime
    tolerance: timedelta = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a window ends after it starts")

    @property
    def read_start(self) -> datetime:
        """Where both sides' records must start to be given."""
        return self.start - self.tolerance

    @property
    def read_end(self) -> datetime:
        return self.end + self.tolerance

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def reaches(self, moment: datetime) -> bool:
        return self.read_start <= moment < self.read_end


@dataclass(frozen=True, slots=True)
class Pair(Generic[Theirs]):
    ours: OurRecord
    theirs: Theirs


@dataclass(frozen=True, slots=True)
class ReconciliationSummary:
    matched: int
    missing_ours: int
    missing_theirs: int
    amount_mismatch: int
    duplicates: int
    outside_window: int
    # Centavos the gateway moved in the window minus what we recorded, over the records
    # reported here (duplicates left out).
    difference: int


@dataclass(frozen=True, slots=True)
class Reconciliation(Generic[Theirs]):
    window: Window
    matched: tuple[Pair[Theirs], ...]
    missing_ours: tuple[Theirs, ...]  # the gateway has it, we do not
    missing_theirs: tuple[OurRecord, ...]  # we have it, the gateway does not
    amount_mismatch: tuple[Pair[Theirs], ...]
    # Every record of a reference listed more than once on either side, both sides'.
    duplicate_ours: tuple[OurRecord, ...]
    duplicate_theirs: tuple[Theirs, ...]
    outside_window: int  # records of the margin left to a neighbouring day

    @property
    def clean(self) -> bool:
        return not (
            self.missing_ours
            or self.missing_theirs
            or self.amount_mismatch
            or self.duplicate_ours
            or self.duplicate_theirs
        )

    @property
    def summary(self) -> ReconciliationSummary:
        pairs = (*self.matched, *self.amount_mismatch)
        theirs = sum(p.theirs.amount for p in pairs) + sum(r.amount for r in self.missing_ours)
        ours = sum(p.ours.amount for p in pairs) + sum(r.amount for r in self.missing_theirs)
        return ReconciliationSummary(
            matched=len(self.matched),
            missing_ours=len(self.missing_ours),
            missing_theirs=len(self.missing_theirs),
            amount_mismatch=len(self.amount_mismatch),
            duplicates=len(self.duplicate_ours) + len(self.duplicate_theirs),
            outside_window=self.outside_window,
            difference=theirs - ours,
        )


Key = tuple[RecordKind, str]


def reconcile(
    window: Window, ours: Iterable[OurRecord], theirs: Iterable[Theirs]
) -> Reconciliation[Theirs]:
    """Match ``ours`` against ``theirs`` for ``window``; both should cover
    ``[window.read_start, window.read_end)`` (records beyond it are ignored)."""
    our_groups, their_groups = _grouped(window, ours), _grouped(window, theirs)
    result = _Tally[Theirs]()
    for key in our_groups.keys() | their_groups.keys():
        result.add(window, our_groups.get(key, []), their_groups.get(key, []))
    return Reconciliation(
        window=window,
        matched=tuple(result.matched),
        missing_ours=tuple(result.missing_ours),
        missing_theirs=tuple(result.missing_theirs),
        amount_mismatch=tuple(result.amount_mismatch),
        duplicate_ours=tuple(result.duplicate_ours),
        duplicate_theirs=tuple(result.duplicate_theirs),
        outside_window=result.outside_window,
    )


R = TypeVar("R", bound=Recorded)


def _grouped(window: Window, records: Iterable[R]) -> dict[Key, list[R]]:
    """Records of the widened window by key, the same record given twice kept once."""
    groups: dict[Key, list[R]] = defaultdict(list)
    for record in records:
        group = groups[(record.kind, record.reference)]
        if window.reaches(record.occurred_at) and record not in group:
            group.append(record)
    return {key: group for key, group in groups.items() if group}


class _Tally(Generic[Theirs]):
    def __init__(self) -> None:
        self.matched: list[Pair[Theirs]] = []
        self.amount_mismatch: list[Pair[Theirs]] = []
        self.missing_ours: list[Theirs] = []
        self.missing_theirs: list[OurRecord] = []
        self.duplicate_ours: list[OurRecord] = []
        self.duplicate_theirs: list[Theirs] = []
        self.outside_window = 0

    def add(self, window: Window, ours: Sequence[OurRecord], theirs: Sequence[Theirs]) -> None:
        if len(ours) > 1 or len(theirs) > 1:
            self._duplicates(window, ours, theirs)
        elif ours and theirs:
            self._pair(window, Pair(ours[0], theirs[0]))
        elif theirs:
            self._alone(window.holds(theirs[0].occurred_at), self.missing_ours, theirs[0])
        else:
            self._alone(window.holds(ours[0].occurred_at), self.missing_theirs, ours[0])

    def _duplicates(
        self, window: Window, ours: Sequence[OurRecord], theirs: Sequence[Theirs]
    ) -> None:
        times = [r.occurred_at for r in ours] + [r.occurred_at for r in theirs]
        if not any(window.holds(moment) for moment in times):
            self.outside_window += len(ours) + len(theirs)
            return
        self.duplicate_ours.extend(ours)
        self.duplicate_theirs.extend(theirs)

    def _pair(self, window: Window, pair: Pair[Theirs]) -> None:
        if not window.holds(pair.theirs.occurred_at):
            self.outside_window += 1
        elif pair.ours.amount == pair.theirs.amount:
            self.matched.append(pair)
        else:
            self.amount_mismatch.append(pair)

    def _alone(self, in_window: bool, missing: list[R], record: R) -> None:
        if in_window:
            missing.append(record)
        else:
            self.outside_window += 1
