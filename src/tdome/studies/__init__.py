"""Monte Carlo studies and parameter sweeps: many runs of the time loop, their results and their report.

Above the simulator (each run is :func:`tdome.sim.engine.run` and its
summary) and above the truth metrics (:mod:`tdome.analysis`), which is why
they are a package of their own and not part of ``analysis``.

- :mod:`~tdome.studies.spec`: what a study is (:class:`~tdome.studies.spec.Study`), read from a file and checked;
- :mod:`~tdome.studies.params`: scenario parameters named by their path;
- :mod:`~tdome.studies.runner`: running it, locally or on Ray (:func:`~tdome.studies.runner.run_study`);
- :mod:`~tdome.studies.lifetime`: workers that end with the study process;
- :mod:`~tdome.studies.results`: the study folder and its outcome measures
  (:func:`~tdome.studies.results.load_results`);
- :mod:`~tdome.studies.report`: the report an analyst reads (:func:`~tdome.studies.report.write_report`).
"""
