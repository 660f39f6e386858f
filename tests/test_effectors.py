"""Battery magazines, launchers and reloads."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tdome.messages import InterceptorSpec
from tdome.world.effectors import FireUnit

SPEC = InterceptorSpec("x", "lower", 1000.0, 1e3, 40e3, 0.0, 15e3, 3.0, {"drone": 0.9}, 1e5)


def battery(launchers=2, per=4, magazine=12, reload=60.0):
    return FireUnit(0, "b", "lower", 0.4, 2.1, 0.0, SPEC, launchers, per, magazine, reload, 500.0)


def test_launchers_empty_then_reload_from_the_magazine():
    b = battery()
    assert b.ready_rounds(0.0) == 8
    assert b.fire(0.0, 5) == 5
    assert b.ready_rounds(1.0) == 3 and b.stock == 7
    assert b.fire(1.0, 5) == 3  # only what is on the rails
    assert b.ready_rounds(30.0) == 0
    assert b.ready_rounds(61.1) == 4  # the first launcher is reloaded (4 of the 4 left)
    assert b.ready_rounds(61.1) <= b.stock


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 30),
       st.lists(st.tuples(st.floats(0, 50), st.integers(1, 6)), max_size=20))
def test_never_fires_more_than_the_magazine(launchers, per, magazine, shots):
    b = battery(launchers, per, magazine, reload=10.0)
    t, fired = 0.0, 0
    for dt, n in shots:
        t += dt
        ready = b.ready_rounds(t)
        got = b.fire(t, n)
        assert got == min(n, ready)
        fired += got
        assert 0 <= b.ready_rounds(t) <= b.stock
    assert fired <= magazine and b.stock == magazine - fired
