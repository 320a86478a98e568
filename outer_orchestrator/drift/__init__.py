"""Drift detection: captured endpoint requests against the training baseline (see job.py)."""
