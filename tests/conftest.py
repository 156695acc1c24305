from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CIFAR_MINI = SHARED_DATA / "cifar10-mini.npz"


@pytest.fixture
def cifar_mini():
    """Real CIFAR-10 (5 000 train, 3 000 test) when ../shared/data is present; skipped otherwise."""
    if not CIFAR_MINI.exists():
        pytest.skip("../shared/data/cifar10-mini.npz not present")
    return np.load(CIFAR_MINI)
