"""Operators: the tools people run against a live system, over boto3.

Owns `pixwave dlq …` (``dlq.py``: list, peek, redrive, purge dead letters) and
`pixwave queues …` (``queues.py``), with the failure ledger they read (``ledger.py``);
the commands are in ``cli.py``. Reads the worker runtime's dead-letter attributes.
"""
