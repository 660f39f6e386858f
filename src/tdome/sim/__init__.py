"""The time loop (world -> sensors -> C2 -> world), its record, the run's summary, and the record written
through :mod:`tdome.runfolder`."""
