"""The ledger: PixWave's double-entry books of every merchant's money.

Owns posting entries (append-only, summing to zero per currency; the rules are in
app/domain/ledger.py), balance transactions, fees and their schedules, merchants'
balances and the locks that keep them from going negative (``service.py``), the
settlement of pending funds and the backfill of payments made before the ledger
(``service.py``, scheduled in ``jobs.py``, run by hand with ``cli.py``), the books'
invariants (``service.py: check_books``), HTTP in ``routes.py``, shapes in
``schemas.py`` and queries in ``repository.py``. Payments and refunds call it in the
transaction of their own state change; payouts will use ``lock_balance``,
``balance_of``, ``move_funds`` and ``post_entry``.
"""
