"""Truth: threat motion, batteries and interceptors (simulator side)."""
