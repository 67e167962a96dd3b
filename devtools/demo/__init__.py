"""`pixwave demo`: drive a running PixWave as a merchant would, and report."""
