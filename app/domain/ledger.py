"""The ledger's rules, free of I/O: account names, fee arithmetic and the entries each
change of money posts, each checked to sum to zero per currency before it is written.

Sign: a positive line credits its account (what PixWave owes the account's holder
grows); a merchant's balance is the sum of its account's lines. A gateway's clearing
account goes negative while the gateway holds money for us (a charge it took) and back
up when the money leaves through it (a refund)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.intents import PaymentMethodType


class EntryKind(StrEnum):
    """What an entry records; with its source id it is the entry's idempotency key."""

    CHARGE = "charge"  # source pi_: a payment captured
    REFUND = "refund"  # source re_: a refund's amount reserved when it was created
    REFUND_SUCCESS = "refund_success"  # source re_: the money left through the gateway
    REFUND_FAILURE = "refund_failure"  # source re_: the reservation went back
    SETTLEMENT = "settlement"  # source le_ (its own id): pending funds made available
    PAYOUT = "payout"  # source po_: a payout's amount reserved when it was created
    PAYOUT_PAID = "payout_paid"  # source po_: the money left through the gateway
    PAYOUT_FAILURE = "payout_failure"  # source po_: the send was not made, money back
    PAYOUT_CANCEL = "payout_cancel"  # source po_: canceled before sending, money back


class TransactionType(StrEnum):
    CHARGE = "charge"
    REFUND = "refund"
    REFUND_FAILURE = "refund_failure"
    PAYOUT = "payout"
    PAYOUT_FAILURE = "payout_failure"
    PAYOUT_CANCEL = "payout_cancel"


class TransactionStatus(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"


class MerchantAccount(StrEnum):
    """A merchant's accounts: funds not yet settled, settled, and held for money on its
    way out (refunds and payouts in flight)."""

    PENDING = "pending"
    AVAILABLE = "available"
    RESERVED = "reserved"


PLATFORM_FEES = "platform:fees"


@dataclass(frozen=True, slots=True)
class Balance:
    """A merchant's balance in one mode: per account, the amount in each currency."""

    livemode: bool
    amounts: dict[MerchantAccount, dict[str, int]]


def merchant_account(merchant_id: str, kind: MerchantAccount) -> str:
    return f"merchant:{merchant_id}:{kind.value}"


def clearing_account(gateway: str) -> str:
    return f"gateway:{gateway}:clearing"


def account_of(status: TransactionStatus) -> MerchantAccount:
    """Where a balance transaction's money counts: pending until it settles."""
    return MerchantAccount(status.value)


@dataclass(frozen=True, slots=True)
class Pricing:
    """A fee (basis points of the amount plus fixed centavos) and how long funds stay
    pending, for one payment method."""

    basis_points: int
    fixed_amount: int
    settlement_delay_days: int


# Used when no fee_schedules row applies (neither the merchant's nor the platform's):
# PIX 0.99 % settled the same day; cards 3.99 % + R$ 0,39, settled after 30 days.
DEFAULT_PRICING: dict[PaymentMethodType, Pricing] = {
    PaymentMethodType.PIX: Pricing(basis_points=99, fixed_amount=0, settlement_delay_days=0),
    PaymentMethodType.CARD: Pricing(basis_points=399, fixed_amount=39, settlement_delay_days=30),
}


def fee_for(amount: int, pricing: Pricing) -> int:
    """fixed + amount * bp / 10 000 rounded half up, in integers, never more than the
    amount (so a charge's net is never negative). The one rounding rule of the ledger."""
    proportional = (amount * pricing.basis_points + 5_000) // 10_000
    return min(amount, pricing.fixed_amount + proportional)


def refund_fee_share(charge_fee: int, gross: int, refunded: int) -> int:
    """The part of a payment's fee given back once ``refunded`` of its ``gross`` has
    been refunded: proportional, rounded half up, and exactly the whole fee at a full
    refund. A refund gives back the share at its new total less what earlier refunds
    gave back, so partial refunds in any order add up to the fee without a centavo lost."""
    return (charge_fee * refunded + gross // 2) // gross if gross else 0


class UnbalancedEntry(ValueError):
    """An entry whose lines do not sum to zero in some currency: a bug, never posted."""


@dataclass(frozen=True, slots=True)
class Line:
    account: str
    amount: int
    merchant_id: str | None = None


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """An entry before it is written: one currency, lines summing to zero."""

    kind: EntryKind
    source_id: str
    merchant_id: str
    livemode: bool
    currency: str
    lines: tuple[Line, ...]

    def __post_init__(self) -> None:
        total = sum(line.amount for line in self.lines)
        if total != 0:
            raise UnbalancedEntry(f"{self.kind} {self.source_id} sums to {total}")


def _merchant_line(merchant_id: str, kind: MerchantAccount, amount: int) -> Line:
    return Line(merchant_account(merchant_id, kind), amount, merchant_id)


@dataclass(frozen=True, slots=True)
class Movement:
    """What an entry is about: whose money, in which mode and currency, and why."""

    kind: EntryKind
    source_id: str
    merchant_id: str
    livemode: bool
    currency: str

    def entry(self, *lines: Line) -> EntryDraft:
        return EntryDraft(
            self.kind, self.source_id, self.merchant_id, self.livemode, self.currency, lines
        )

    def merchant(self, kind: MerchantAccount, amount: int) -> Line:
        return _merchant_line(self.merchant_id, kind, amount)


def charge_entry(movement: Movement, gateway: str, gross: int, fee: int) -> EntryDraft:
    """The gateway took ``gross`` for the merchant: its net is pending, the fee ours."""
    return movement.entry(
        Line(clearing_account(gateway), -gross),
        movement.merchant(MerchantAccount.PENDING, gross - fee),
        Line(PLATFORM_FEES, fee),
    )


def move_entry(
    movement: Movement, source: MerchantAccount, target: MerchantAccount, amount: int
) -> EntryDraft:
    """``amount`` of the merchant's money moves from one of its accounts to another:
    a refund reserved or given back, pending funds settled, a payout reserved."""
    return movement.entry(movement.merchant(source, -amount), movement.merchant(target, amount))


def refund_entry(
    movement: Movement, source: MerchantAccount, amount: int, fee_back: int
) -> EntryDraft:
    """A refund's ``amount`` set aside: the merchant gives its part, we give back the
    fee's share ``fee_back``."""
    return movement.entry(
        movement.merchant(source, -(amount - fee_back)),
        Line(PLATFORM_FEES, -fee_back),
        movement.merchant(MerchantAccount.RESERVED, amount),
    )


def refund_failure_entry(
    movement: Movement, target: MerchantAccount, amount: int, fee_back: int
) -> EntryDraft:
    """A refund not made: the reservation goes back to the merchant and the fee to us."""
    return movement.entry(
        movement.merchant(MerchantAccount.RESERVED, -amount),
        movement.merchant(target, amount - fee_back),
        Line(PLATFORM_FEES, fee_back),
    )


def paid_out_entry(movement: Movement, gateway: str, amount: int) -> EntryDraft:
    """Reserved money left through ``gateway`` (a refund made, a payout paid)."""
    return movement.entry(
        movement.merchant(MerchantAccount.RESERVED, -amount),
        Line(clearing_account(gateway), amount),
    )
