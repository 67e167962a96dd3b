"""Merchants: who calls PixWave and how.

Owns merchants and their API keys (``service.py``, ``repository.py``), authenticating a
request's key and its rate limit (``auth.py``), and the merchant's gateway priority
(``routes.py``, ``schemas.py``). Every other area builds on it.
"""
