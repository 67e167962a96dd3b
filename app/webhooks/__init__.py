"""Webhooks: telling merchants what happened.

Owns webhook endpoints (``service.py``: create, list, delete, rotate the secret; HTTP in
``routes.py``), the events list and redelivery (``event_routes.py``), signed deliveries
and their retries (``deliveries.py``, the destinations' health in ``places.py``), the
webhook worker and its dispatcher (``consumer.py``), `pixwave webhooks verify`
(``cli.py``), their shapes (``schemas.py``) and queries of endpoints, deliveries and
the outbox's events (``repository.py``).
"""
