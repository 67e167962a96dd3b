"""`pixwave reviews …`: operators read and close reviews."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from app.cli_support import settings_with
from app.db.session import open_uow
from app.domain.caller import Caller
from app.domain.errors import ConflictError, NotFound
from app.reviews import service
from app.risk.repository import ReviewRepository
from app.risk.schemas import ReviewOut, review_view

reviews_cli = typer.Typer(help="Reviews: intents the risk rules sent to review.")
OPERATOR_KEY = "operator_cli"


@reviews_cli.command("list")
def reviews_list(
    merchant_id: str,
    all_reviews: Annotated[bool, typer.Option("--all", help="Closed ones too")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 100,
) -> None:
    """The merchant's reviews, newest first, one JSON object a line."""
    settings = settings_with("database_url")

    async def read() -> list[ReviewOut]:
        async with open_uow(settings) as uow:
            reviews = await uow.repository(ReviewRepository).list(
                merchant_id, open_only=not all_reviews, starting_after=None, limit=limit
            )
        return [review_view(r) for r in reviews]

    for review in asyncio.run(read()):
        typer.echo(json.dumps(review))


def _close(review_id: str, close: service.Close) -> None:
    settings = settings_with("database_url")

    async def run() -> ReviewOut:
        async with open_uow(settings) as uow:
            review = await uow.repository(ReviewRepository).find(review_id)
            if review is None:
                raise NotFound(f"No such review: {review_id!r}", param="id")
            caller = Caller(review.merchant_id, review.livemode, OPERATOR_KEY)
            closed = await close(uow, caller, review_id)
            await uow.commit()
        return review_view(closed)

    try:
        typer.echo(json.dumps(asyncio.run(run())))
    except (NotFound, ConflictError) as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc


@reviews_cli.command("approve")
def reviews_approve(review_id: str) -> None:
    """Close a review: the payment stands."""
    _close(review_id, service.approve_review)


@reviews_cli.command("refund")
def reviews_refund(review_id: str) -> None:
    """Close a review and give the money back (a refund, or a cancel if still unpaid)."""
    _close(review_id, service.refund_review)
