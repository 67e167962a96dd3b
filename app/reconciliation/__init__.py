"""Reconciliation: each gateway's books for a day against ours (issue 17).

Owns reading a day's records on both sides, matching them (the pure matcher is
app/domain/reconciliation.py), storing each run with what did not match and alerting
operators when a day is not clean (``service.py``), the queries of our side and of the
runs (``repository.py``), their views (``schemas.py``), ``pixwave reconcile``
(``cli.py``) and the daily job (``jobs.py``). It reads the ledger's clearing lines,
payment attempts and refunds, and changes none of them.
"""
