"""How the installed torch orders equal values on the CPU, as the reference code calls it.

The reference ranks every score with one ``torch.argsort(scores, descending=True)`` without
``stable=True`` (reference-spec §3.3, §3.9) and picks LBPE's epochs with ``torch.topk`` (§3.1). Which
of several equal scores a selection keeps is then whatever order that torch build returns. This script
prints, for the installed torch:

1. the smallest number of tied values for which ``argsort``/``sort`` without ``stable=True`` differs
   from the stable order, per dtype (the reference's scores are float32 tensors; forgetting counts are
   integers), descending and ascending;
2. that the threshold is the length of the sorted vector, not the size of the tied group: in vectors
   of pairs of equal values, the share of pairs that come out in reversed index order, per length;
3. on a score vector shaped like a real cell (CIFAR-10 IPC_F 10, factor 2: 400 decoded patches,
   forgetting-like small integer counts), how many positions of the descending order differ from the
   stable one, and how many of the kept patches of a hard/easy selection change;
4. which epochs ``torch.topk`` returns among equally accurate epochs.

Run it with any torch: ``python benchmarks/tie_order.py`` (needs only torch). The results for the
pinned torch and for torch 2.1 are recorded in docs/deviations.md, "Ties".
"""

from __future__ import annotations

import platform

import torch

DTYPES = (torch.float16, torch.float32, torch.float64, torch.int64)


def first_unstable_n(dtype: torch.dtype, descending: bool, upto: int = 4096) -> int | None:
    """Smallest n for which argsort of n equal values differs from the stable (ascending index) order."""
    for n in range(2, upto + 1):
        x = torch.zeros(n, dtype=dtype)
        got = torch.argsort(x, descending=descending)
        if not torch.equal(got, torch.arange(n)):
            return n
    return None


def cell_like(n: int = 400, levels: int = 6, keep: int = 40, seed: int = 0) -> dict[str, int]:
    """A forgetting-like score (small integers, massive ties) of one cell: how much the unstable order moves."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, levels, (n,), generator=g).to(torch.float32)
    fast = torch.argsort(scores, descending=True)
    stable = torch.argsort(scores, descending=True, stable=True)
    return {
        "positions_moved": int((fast != stable).sum()),
        "hard_kept_changed": len(set(stable[:keep].tolist()) - set(fast[:keep].tolist())),
        "easy_kept_changed": len(set(stable[-keep:].tolist()) - set(fast[-keep:].tolist())),
    }


def pairs_reversed(n: int, trials: int = 100, seed: int = 0) -> tuple[int, int]:
    """(reversed, total) tied pairs over ``trials`` shuffled vectors of length n holding every value twice."""
    g = torch.Generator().manual_seed(seed)
    reversed_, total = 0, 0
    for _ in range(trials):
        x = torch.div(torch.randperm(n, generator=g), 2, rounding_mode="floor").to(torch.float32)
        order = torch.argsort(x, descending=True)
        pos = torch.empty_like(order)
        pos[order] = torch.arange(n)
        for v in x.unique():
            idx = (x == v).nonzero().flatten()
            if len(idx) == 2:
                total += 1
                reversed_ += int(pos[idx[0]] > pos[idx[1]])
    return reversed_, total


def topk_on_ties() -> list[tuple[str, list[int]]]:
    """Epochs ``torch.topk`` keeps among equal accuracies (the reference's LBPE epoch choice)."""
    cases = [
        ("10 equal epochs, K=3", torch.full((10,), 7.0)),
        ("100 equal epochs, K=10", torch.full((100,), 7.0)),
        ("[5, 7, 7, 6, 7], K=2", torch.tensor([5.0, 7.0, 7.0, 6.0, 7.0])),
    ]
    out = []
    for name, acc in cases:
        k = 2 if "K=2" in name else (3 if "K=3" in name else 10)
        out.append((name, sorted(torch.topk(acc, k).indices.tolist())))
    return out


def main() -> None:
    print(f"torch {torch.__version__} on {platform.machine()} ({torch.get_num_threads()} threads)")
    print("smallest n of equal values where argsort without stable=True differs from the stable order:")
    for dtype in DTYPES:
        desc, asc = first_unstable_n(dtype, True), first_unstable_n(dtype, False)
        print(f"  {str(dtype):15s} descending: {desc or 'never (up to 4096)'}   ascending: {asc or 'never'}")
    x = torch.zeros(17)
    print(f"  argsort(17 zeros, descending=True) = {torch.argsort(x, descending=True).tolist()}")
    sorted_idx = torch.sort(torch.zeros(17), descending=True).indices
    print(f"  sort(17 zeros, descending=True).indices = {sorted_idx.tolist()}")
    for n in (16, 17, 32, 400):
        rev, total = pairs_reversed(n)
        print(f"vectors of {n} values, each value twice: {rev} of {total} tied pairs in reversed index order")
    cell = cell_like()
    print(
        "400 forgetting-like scores in 0..5 (one CIFAR-10 10->1 cell), descending argsort vs stable: "
        f"{cell['positions_moved']} of 400 positions differ; of 40 kept patches, hard changes "
        f"{cell['hard_kept_changed']}, easy {cell['easy_kept_changed']}"
    )
    for name, kept in topk_on_ties():
        print(f"torch.topk on ties, {name}: epochs {kept}")


if __name__ == "__main__":
    main()
