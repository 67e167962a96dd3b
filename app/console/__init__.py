"""The operators' web console at /console (``routes.py``): outbox lag and parked rows,
queue and DLQ depths, dead letters with their recorded reasons (peek, redrive with a dry
run, purge), gateway health and priorities, and one intent with everything recorded
about it. Its pages are over the operators' use cases (``service.py``); its own read
queries are in ``repository.py``, its sessions and CSRF tokens in ``sessions.py``.
"""
