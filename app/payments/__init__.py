"""Payments: payment intents from creation to their end.

Owns creating, reading, listing, cancelling and asking to capture intents
(``intents.py``, HTTP in ``routes.py``); charging them through the gateways with
routing, retries and fallback (``charging.py``, ``charges.py``, ``charge_calls.py``)
and capturing or cancelling what they asked for (``actions.py``), run by the charge
worker (``consumer.py``); gateway callbacks (``callbacks.py``, ``callback_routes.py``);
the scheduler's work on intents (``jobs.py``: PIX expiry in ``expiry.py``, stuck intents
in ``resolution.py``, polls of PIX codes awaiting their payer in ``payment_polls.py``,
refunds of late payments in ``late_payments.py``); intents' events
and alerts (``events.py``, ``metrics.py``); their shapes (``schemas.py``) and queries of
intents, attempts, stuck checks, payment polls and callbacks (``repository.py``).
"""
