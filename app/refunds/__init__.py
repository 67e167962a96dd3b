"""Refunds: returning a succeeded intent's money, in full or in part.

Owns creating and reading refunds (``service.py``, HTTP in ``routes.py``), returning
the money through the gateway that took it on the charge worker (``consumer.py``), the
scheduler's follow-up of refunds the gateway is still settling (``jobs.py``), refunds'
events (``events.py``), shapes (``schemas.py``) and queries (``repository.py``).
Builds on payments: a refund reserves its amount on the intent.
"""
