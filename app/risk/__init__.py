"""Risk: merchants' rules as data (``rules.py``), their evaluation without I/O
(``evaluation.py``), velocity counted atomically in Redis (``velocity.py``), payers'
keyed fingerprints (``fingerprints.py``), screening an intent at creation and opening
its review (``service.py``), the rules' API and CLI (``routes.py``, ``cli.py``)."""
