"""ASTERIX codec speed: tdome's own readers and writers against libasterix, the reference they are tested on.

    python benchmarks/asterix_codec.py            # 1,000 plots and 1,000 tracks, best of 5 repeats
    python benchmarks/asterix_codec.py --n 100

- CAT048 read: :func:`tdome.live.asterix.decode` with the fast CAT048 reader (the service's path) and with
  libasterix alone (``fast=False``), per plot, on the datagrams the simulator's radars send (every item tdome
  writes: 010, 140, 020, 040, 070, 110, 120, 220, SP).
- CAT062 write: :func:`tdome.live.asterix.encode_cat062` per track against libasterix building the same
  records (``Cat_062_1_19.create``) and packing them.

Both sides run here, one after the other, on one core; the ratios are what to compare across machines.  The
load average is printed, and the last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import asterix.generated as gen
import numpy as np

from tdome.live.asterix import decode, decode_cat062, encode_cat048, encode_cat062


def best_s(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls, s (the least disturbed by the rest of the machine)."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="plots and tracks (default 1000)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    n, rng = args.n, np.random.default_rng(1)
    load = os.getloadavg()
    print(f"ASTERIX codec, {n} records; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)

    plots = encode_cat048(25, 11, 36_000.0, rng.uniform(1e3, 4e5, n), rng.uniform(0, 2 * np.pi, n),
                          height_m=rng.uniform(0, 2e4, n), rdot_mps=rng.normal(0, 200, n),
                          mode3a=rng.integers(0, 4096, n), address=rng.integers(0, 2**24, n),
                          el_rad=rng.uniform(0, 0.5, n))
    assert sum(len(decode(d).reports) for d in plots) == n
    fast = best_s(lambda: [decode(d) for d in plots], args.repeats) / n
    lib = best_s(lambda: [decode(d, fast=False) for d in plots], args.repeats) / n
    print(f"  CAT048 read: {fast * 1e6:.1f} us a plot (fast reader), {lib * 1e6:.1f} us (libasterix alone): "
          f"{lib / fast:.1f}x")

    k = np.arange(n)
    tracks = dict(lat_deg=rng.uniform(21, 26, n), lon_deg=rng.uniform(119, 123, n), x_m=rng.uniform(-3e5, 3e5, n),
                  y_m=rng.uniform(-3e5, 3e5, n), vx_mps=rng.normal(0, 200, n), vy_mps=rng.normal(0, 200, n),
                  alt_m=rng.uniform(0, 2e4, n), climb_mps=rng.normal(0, 20, n), confirmed=np.ones(n, bool),
                  coasting=np.zeros(n, bool), mode_of_movement_trans=np.zeros(n, int),
                  mode_of_movement_long=np.zeros(n, int), mode_of_movement_vert=np.ones(n, int))
    grams = encode_cat062(0, 100, 36_000.0, k, **tracks)
    assert sum(len(decode_cat062(d)) for d in grams) == n
    ours = best_s(lambda: encode_cat062(0, 100, 36_000.0, k, **tracks), args.repeats) / n
    rec = gen.Cat_062_1_19.cv_record

    def lib_write():
        records = [rec.create({
            "010": (("SAC", 0), ("SIC", 100)), "015": 0, "070": 36_000.0,
            "105": (("LAT", float(tracks["lat_deg"][i])), ("LON", float(tracks["lon_deg"][i]))),
            "100": (("X", float(tracks["x_m"][i])), ("Y", float(tracks["y_m"][i]))),
            "185": (("VX", float(tracks["vx_mps"][i])), ("VY", float(tracks["vy_mps"][i]))),
            "040": int(k[i]), "130": float(tracks["alt_m"][i] / 0.3048),
            "220": float(tracks["climb_mps"][i] / 0.3048 * 60.0)}) for i in range(n)]
        gen.Cat_062_1_19.create(records).unparse().to_bytes()
    lib_w = best_s(lib_write, max(1, args.repeats // 2)) / n
    print(f"  CAT062 write: {ours * 1e6:.2f} us a track (tdome), {lib_w * 1e6:.1f} us (libasterix, fewer items): "
          f"{lib_w / ours:.0f}x")
    result = dict(benchmark="asterix_codec", n=n, cat048_read_us=round(fast * 1e6, 2),
                  cat048_read_libasterix_us=round(lib * 1e6, 2), cat048_read_ratio=round(lib / fast, 2),
                  cat062_write_us=round(ours * 1e6, 3), cat062_write_libasterix_us=round(lib_w * 1e6, 2),
                  cat062_write_ratio=round(lib_w / ours, 1), load_average=round(load[0], 2),
                  python=sys.version.split()[0])
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
