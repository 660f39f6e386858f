"""tdome: layered air and missile defense, from radar plots to intercepts."""

__version__ = "0.1.0"
