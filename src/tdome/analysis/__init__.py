"""Metrics against truth."""
