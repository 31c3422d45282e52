"""The GPT: shapes, tied weights, a sane initial loss."""

from __future__ import annotations

import math

import torch

from auralith.config.training import TrainingConfig
from auralith.train.model import GPT, make_optimizer


def test_forward_shapes_and_initial_loss_near_uniform():
    torch.manual_seed(0)
    model = GPT(vocab_size=300, layers=2, heads=2, d_model=32, context=16)
    idx = torch.randint(0, 300, (4, 16))
    logits, loss = model(idx, torch.randint(0, 300, (4, 16)))
    assert logits.shape == (4, 16, 300)
    assert abs(loss.item() - math.log(300)) < 0.2


def test_output_head_is_the_embedding():
    model = GPT(vocab_size=50, layers=1, heads=1, d_model=8, context=4)
    assert model.lm_head.weight is model.wte.weight
    assert model.num_parameters() == sum(p.numel() for p in set(model.parameters()))


def test_same_seed_same_initial_weights():
    weights = []
    for _ in range(2):
        torch.manual_seed(3)
        weights.append(GPT(50, 1, 2, 8, 4).state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_no_weight_decay_on_biases_and_norms():
    model = GPT(50, 1, 2, 8, 4)
    opt = make_optimizer(model, TrainingConfig(weight_decay=0.1))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and all(p.dim() >= 2 for p in decay["params"])
    assert no_decay["weight_decay"] == 0.0 and all(p.dim() == 1 for p in no_decay["params"])
