"""Pictures of a run, all drawn from its run folder (:mod:`tdome.runfolder`): the map PNG, the HTML replay,
the CZML export and the terminal summary, in one palette.

Nothing here reads the simulator: a picture shows what the folder holds, so
any run folder can be drawn again, and the pictures of one run agree.
"""
