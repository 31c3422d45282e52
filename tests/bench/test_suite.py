"""bench/suite.py's table and arguments (the measurements themselves run in `bench/run`, never in tests)."""

from __future__ import annotations

import pytest

from bench import suite


def test_overhead_is_the_fraction_of_plain_wall_time_added():
    assert suite.overhead(105.0, 100.0) == pytest.approx(0.05)
    assert suite.overhead(99.0, 100.0) == pytest.approx(-0.01)


def test_render_aligns_columns_and_marks_goals():
    rows = [
        suite.Row("1. overhead", "34.1 s", "33.4 s plain", "+2.0%", "<= 5%", True),
        suite.Row("1. a point on the curve", "40.4 s", "38.2 s plain", "+5.6%"),
        suite.Row("2. scaling", "40.0 s", "60.0 s 1 proc", "1.50x", ">= 1.8x", False),
    ]
    lines = suite.render(rows).splitlines()
    assert lines[0].split(" | ")[0].strip() == "measure"
    assert len({len(line) for line in lines}) == 1  # every line as wide as the header
    assert lines[2].rstrip().endswith("yes")
    assert lines[3].rstrip().endswith("|")  # no goal: nothing in the last column
    assert lines[4].rstrip().endswith("NO")


def test_unknown_section_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        suite.main(["--only", "pipeline,nope"])
    assert exc.value.code == 2
    assert "unknown section(s) nope" in capsys.readouterr().err
