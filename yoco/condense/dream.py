"""DREAM: IDC with representative matching (``DREAM:condense.py:condense``, reference-spec §6.3).

Every ``dream_interval`` inner steps the real batch of each class is replaced by the real images
nearest to the ``batch_real`` k-means centroids of the current network's features of that class; the
mixed grid is initialised with the images nearest to the k-means centroids of a fresh network's
features instead of the first images (``dream_kmeans_init``).
"""

from __future__ import annotations

import torch

from ..errors import YocoError
from ..optim import all_finite
from ..seeding import seed_from
from .idc import IDC


def nearest_to_centroids(features: torch.Tensor, n_clusters: int, seed: int, max_iter: int = 100) -> torch.Tensor:
    """Index of the sample nearest to each k-means centroid, in centroid order (DREAM's query).

    ``KMeansSampling.query_match_sample``: cluster the features with :func:`yoco.scores.kmeans`
    (the algorithm of ``fast_pytorch_kmeans``, which DREAM uses), then take, for every centroid, the
    sample with the smallest Euclidean distance to it (two centroids may share one sample).
    """
    if n_clusters > features.shape[0]:
        raise YocoError(
            f"k-means with {n_clusters} clusters needs at least as many samples, got {features.shape[0]}; "
            "lower batch_real (DREAM's cluster count) or ipc."
        )
    from ..scores import kmeans  # fast_pytorch_kmeans's algorithm, seeded

    centroids = torch.as_tensor(
        kmeans(features, n_clusters, seed, max_iter=max_iter).centroids, dtype=features.dtype, device=features.device
    )
    return torch.cdist(centroids, features).argmin(1)


class DREAM(IDC):
    """One DREAM condensation run: IDC's loop with k-means-chosen real images."""

    method = "dream"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.init_net: torch.nn.Module | None = None
        self.representatives: list[torch.Tensor] = []

    def initial_pick(self, c: int, idx: torch.Tensor, need: int) -> torch.Tensor:
        if not self.cfg.dream_kmeans_init:
            return super().initial_pick(c, idx, need)
        if self.init_net is None:  # one untrained network (the run's first) for every class
            self.init_net = self.network(0)
        return nearest_to_centroids(
            self.features(self.init_net, idx), need, seed_from(self.seed, "dream-init", c), self.cfg.kmeans_iter
        )

    def begin_inner(self, net, it: int, ot: int) -> None:
        """Every ``dream_interval`` inner steps: the real images nearest to each class's centroids."""
        if ot % self.cfg.dream_interval:
            return
        # k-means on the features of a network whose training diverged would cluster NaNs: stop here,
        # where k-means reads the device anyway (docs/errors.md, "Training that diverges").
        if not all_finite(net.parameters()):
            self.scale_before = self.images.detach().abs().amax()
            raise self.diverged(net, it, ot, "network not finite")
        self.representatives = []
        for c, idx in enumerate(self.pool.class_idx):
            pick = nearest_to_centroids(
                self.features(net, idx),
                self.cfg.batch_real,
                seed_from(self.seed, "dream-query", it, ot, c),
                self.cfg.kmeans_iter,
            )
            self.representatives.append(idx[pick])

    def real_batch(self, net, c: int, it: int, ot: int) -> torch.Tensor:
        return self.pool.images(self.representatives[c])
