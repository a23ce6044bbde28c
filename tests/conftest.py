import os
import tempfile

import pytest

import roofline


@pytest.fixture(scope="session")
def est():
    """Shorthand: est('llama-2-7b', 'a100', batch_size=...)."""
    return roofline.estimate


# A calibration profile `roofline calibrate` saved on this machine must not change the tests' numbers:
# the command line's `--calibration auto` looks in this (empty) folder instead.
os.environ["ROOFLINE_CALIBRATION_DIR"] = tempfile.mkdtemp(prefix="roofline-test-calibration-")
