"""Tools that drive a running PixWave from outside: the demo merchant and the chaos fleet.

They are not product: nothing under ``app/``, ``outbox/`` or ``workers/`` imports them
except the ``pixwave`` command, which offers them as ``pixwave demo`` and ``pixwave chaos``.
"""
