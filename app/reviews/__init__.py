"""Reviews: intents the risk rules sent to review (opened by ``app.risk`` at creation),
read and closed by operators: approved, or refunded through the refunds area
(``service.py``, ``routes.py``, ``cli.py``)."""
