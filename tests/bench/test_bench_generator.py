"""The pure parts of bench/generator.py: the steady window of a run and the worker's CPU over it.

The bench itself (real Locust processes for minutes) is not run here; no timing is asserted.
"""

from __future__ import annotations

import math
import sys

from tests.helpers import load_bench

generator = load_bench("generator")
assert "locust" not in sys.modules  # importing Locust would monkey-patch this whole test process with gevent


def test_steady_leaves_out_the_spawn_and_the_cut_last_second():
    per_second = {100: 5, 101: 900, 102: 1000, 103: 1000, 105: 1000, 106: 300}  # 104: no request at all
    rate, seconds = generator.steady(per_second)
    assert seconds == [102, 103, 104, 105]
    assert rate == 3000 / 4


def test_steady_of_a_run_too_short_has_no_figure():
    rate, seconds = generator.steady({100: 5, 101: 7})
    assert seconds == [] and math.isnan(rate)
    assert math.isnan(generator.steady({})[0])


def test_cpu_between_interpolates_the_trace():
    trace = [(10.0, 1.0), (11.0, 2.0), (12.0, 2.5)]
    assert generator.cpu_between(trace, 10.5, 12.0) == 1.0
    assert math.isnan(generator.cpu_between(trace, 9.0, 11.0))
