"""Payouts: money sent from a merchant's available balance to a Pix key.

Owns creating, reading and canceling payouts (``service.py``, HTTP in ``routes.py``),
sending them through the gateway on the charge worker (``consumer.py``), the
scheduler's reads of sends still in transit (``jobs.py``) and of those a gateway's
callback names (``service.read_noticed_sends``), payouts' events (``events.py``), shapes
(``schemas.py``) and queries (``repository.py``). Builds on the ledger: a payout reserves
its amount from available funds, and gives it back if it is not sent.
"""
