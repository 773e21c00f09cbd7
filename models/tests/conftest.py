"""Shared fixtures. Tests make their own tiny data; none reads ../shared/data."""
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(autouse=True, scope="session")
def _threads():
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
