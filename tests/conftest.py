import pytest

import roofline


@pytest.fixture(scope="session")
def est():
    """Shorthand: est('llama-2-7b', 'a100', batch_size=...)."""
    return roofline.estimate
