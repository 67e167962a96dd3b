"""Money as integer minor units plus an ISO-4217 code. Never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal

from app.domain.errors import InvalidRequest

# ISO-4217 minor-unit exponents for the currencies PixWave accepts.
CURRENCY_EXPONENTS: dict[str, int] = {
    "BRL": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "ARS": 2,
    "MXN": 2,
    "COP": 2,
    "PEN": 2,
    "UYU": 2,
    "CLP": 0,
    "PYG": 0,
    "JPY": 0,
    "KWD": 3,
}


# Enough digits that no representable amount is ever rounded.
_EXACT = Context(prec=64)


def normalize_currency(code: str) -> str:
    upper = code.upper()
    if upper not in CURRENCY_EXPONENTS:
        raise InvalidRequest(
            f"Currency {code!r} is not supported.", param="currency", code="currency_unsupported"
        )
    return upper


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidRequest("Amount must be an integer of minor units.", param="amount")
        if self.currency not in CURRENCY_EXPONENTS:
            raise InvalidRequest(
                f"Currency {self.currency!r} is not supported.",
                param="currency",
                code="currency_unsupported",
            )

    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENTS[self.currency]

    def to_decimal(self) -> Decimal:
        """The amount in major units, exact (19.90 for 1990 BRL)."""
        return Decimal(self.amount).scaleb(-self.exponent, _EXACT)

    def to_decimal_string(self) -> str:
        """The amount as a fixed-point string, as Pix wants it ("19.90")."""
        return f"{self.to_decimal():.{self.exponent}f}"

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidRequest(
                f"Cannot combine {self.currency} with {other.currency}.", param="currency"
            )
