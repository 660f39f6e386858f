"""Plots and maps."""
