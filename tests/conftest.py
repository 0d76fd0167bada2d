"""Shared pytest fixtures and paths."""
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / 'configs'
#: the team's real-data folder, beside the checkout (absent on a user's clone)
SHARED_DATA = REPO_ROOT.parent / 'shared' / 'data'


@pytest.fixture(autouse=True)
def _few_threads():
    """Keep tests predictable on small CI machines."""
    old = torch.get_num_threads()
    torch.set_num_threads(min(old, 2))
    yield
    torch.set_num_threads(old)


class WritesFileWhenUnpickled:
    """A pickle payload: unpickling it calls ``open(path, 'w')`` (pickled as
    ``io.open``) and so creates ``path`` - what the safe loaders must refuse
    and an unrestricted load runs."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def file_payload():
    """``file_payload(path)``: a :class:`WritesFileWhenUnpickled`."""
    return WritesFileWhenUnpickled
