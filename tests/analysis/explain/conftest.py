"""Fixtures shared by the attribution tests: one intra-op thread, and the random tiny CNN
(32 channels, 4 cities, 2 groups) with a batch of images to explain.

``one_thread`` is not autouse: a module opts in with
``pytestmark = pytest.mark.usefixtures("one_thread")``."""
from __future__ import annotations

import pytest
import torch

from analysis.nets import TwoHeadClassifier, get_backbone


@pytest.fixture(scope="module")
def one_thread():
    """One torch intra-op thread while the module's tests run, restored after it. Their
    tensors are far too small for intra-op threads: on shared cores the threads mostly wait
    on each other (measured ~8x slower for the tiny CNN; ~50x in CPU time for
    EfficientNet's many small ops on a 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def model():
    """The tiny CNN, random weights (seed 0), 32 feature channels, 4 cities and 2 groups."""
    torch.manual_seed(0)
    return TwoHeadClassifier(get_backbone("tiny_cnn").build("random"), 32, 4, 2)


@pytest.fixture
def x():
    """Three 32 px images of standard normal noise (seed 1)."""
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
