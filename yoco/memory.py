"""How much memory a machine has, and a check that a planned allocation can fit at all.

A width or image size that cannot be allocated is refused before the allocation (one line naming the
setting) rather than ending in the allocator's traceback or the kernel's OOM killer.
"""

from __future__ import annotations

import os

from .errors import YocoError


def total_bytes(device="cpu") -> int | None:
    """Physical memory of the machine (or of the CUDA device); None when it cannot be told."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def check_fits(nbytes: float, what: str, fix: str, device="cpu") -> None:
    """Raise unless ``nbytes`` fits in the device's physical memory (a floor: more is needed besides)."""
    total = total_bytes(device)
    if total is not None and nbytes > total:
        where = "this GPU" if str(device).startswith("cuda") else "this machine"
        raise YocoError(f"{what} needs at least {gib(nbytes)} of memory, more than the {gib(total)} of {where}; {fix}")
