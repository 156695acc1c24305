"""ZCA whitening as MTT applies it to CIFAR (``MTT:utils.py:get_dataset`` with ``--zca``).

MTT fits ``kornia.enhance.ZCAWhitening(eps=0.1)`` on the un-normalised training images (pixels in
[0, 1], no mean/std normalisation first) and whitens the training and the test images with it; experts,
distillation and MTT's own evaluation all live in that space, and ``images_best.pt`` is saved in it.
Kornia's transform, written out (kornia is not a dependency of this project):

    mu = mean of the flattened images;  C = (X - mu)^T (X - mu) / (N - 1);  C = U diag(S) U^T
    W = U diag(1 / sqrt(S + eps)) U^T;  whiten(x) = (x - mu) W;  unwhiten(y) = y U diag(sqrt(S + eps)) U^T + mu

The covariance and its eigen-decomposition are computed in float64 (kornia: the input's float32), so the
transform is the same on every machine up to float32 rounding of the stored matrices.
"""

from __future__ import annotations

import torch

from ..errors import YocoError

#: Regularisation of the eigenvalues (kornia's ``eps``; MTT passes 0.1).
ZCA_EPS = 0.1


class ZCA:
    """A fitted ZCA whitening of images ``[N, C, H, W]`` (float32 matrices on ``device``)."""

    def __init__(self, mean: torch.Tensor, whiten: torch.Tensor, unwhiten: torch.Tensor):
        self.mean, self.whiten, self.unwhiten = mean, whiten, unwhiten

    @classmethod
    def fit(cls, x: torch.Tensor, eps: float = ZCA_EPS, chunk: int = 4096) -> "ZCA":
        """Fit on ``x`` ``[N, C, H, W]`` (pixels in [0, 1]); the covariance is accumulated in chunks."""
        if x.dim() != 4 or x.shape[0] < 2:
            raise YocoError(f"ZCA needs at least two images [N, C, H, W], got {tuple(x.shape)}.")
        flat = x.reshape(x.shape[0], -1)
        n, d = flat.shape
        mean = flat.double().mean(0)
        cov = torch.zeros(d, d, dtype=torch.float64, device=x.device)
        for s in range(0, n, chunk):
            c = flat[s : s + chunk].double() - mean
            cov += c.T @ c
        cov /= n - 1
        evals, evecs = torch.linalg.eigh(cov)  # C is symmetric: eigh is SVD here, and cheaper
        evals = evals.clamp_min(0.0)
        whiten = (evecs * (evals + eps).rsqrt()) @ evecs.T
        unwhiten = (evecs * (evals + eps).sqrt()) @ evecs.T
        return cls(mean.float(), whiten.float(), unwhiten.float())

    def __call__(self, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Whiten ``x`` ``[N, C, H, W]`` (pixels in [0, 1])."""
        flat = x.reshape(x.shape[0], -1)
        out = torch.cat([(flat[s : s + chunk] - self.mean) @ self.whiten for s in range(0, flat.shape[0], chunk)])
        return out.view_as(x)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Back from the whitened space to pixels."""
        flat = y.reshape(y.shape[0], -1)
        return (flat @ self.unwhiten + self.mean).view_as(y)
