"""`pixwave chaos`: run the fleet, break it on purpose, prove no money was lost or moved twice."""
