"""yoco.optim.SGD must take exactly the steps of torch.optim.SGD."""

import torch

from yoco.optim import SGD


def test_sgd_matches_torch_sgd_step_for_step():
    g = torch.Generator().manual_seed(0)
    ours = [torch.randn(4, 3, generator=g, requires_grad=True), torch.randn(5, generator=g, requires_grad=True)]
    ref = [p.detach().clone().requires_grad_(True) for p in ours]
    opt_a = SGD(ours, lr=0.05, momentum=0.9, weight_decay=5e-4)
    opt_b = torch.optim.SGD(ref, lr=0.05, momentum=0.9, weight_decay=5e-4)
    for step in range(5):
        for o, r in zip(ours, ref):
            grad = torch.randn(o.shape, generator=g)
            o.grad, r.grad = grad.clone(), grad.clone()
        if step == 3:  # a learning-rate change, as the MultiStep schedule makes
            opt_a.param_groups[0]["lr"] = opt_b.param_groups[0]["lr"] = 0.01
        opt_a.step()
        opt_b.step()
        for o, r in zip(ours, ref):
            torch.testing.assert_close(o, r, rtol=0, atol=1e-7)


def test_plain_sgd_without_momentum_or_decay():
    p = torch.ones(3, requires_grad=True)
    opt = SGD([p], lr=0.5)
    p.grad = torch.tensor([1.0, 2.0, -2.0])
    opt.step()
    assert p.tolist() == [0.5, 0.0, 2.0]
    opt.zero_grad()
    assert p.grad is None
