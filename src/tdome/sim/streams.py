"""Independent random streams per component, derived from the run seed.

Each component asks for its stream by a stable name ("radar:Leshan EWR",
"raid", "effectors"); the name is hashed into the SeedSequence spawn key, so
adding a radar changes neither the raid nor the other radars' noise, and the
same seed gives the same numbers on any machine or worker.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=(key,)))
