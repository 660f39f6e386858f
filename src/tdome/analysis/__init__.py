"""Truth metrics: GOSPA, SIAP and NEES, and the confidence interval of a mean over runs.

They sit below the time loop, which scores every record instant with them;
they import nothing of tdome, so any tracker's output can be scored the same
way.  Monte Carlo studies and sweeps, which run the time loop, are above it
in :mod:`tdome.studies`.
"""
