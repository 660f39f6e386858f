"""Sensor models (simulator side): truth in, plots out."""
