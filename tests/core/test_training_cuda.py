"""The CUDA-graph training step (runs only where a GPU is present)."""

import pytest
import torch

from diffusion_link.core.losses import cross_sample_objective
from diffusion_link.core.model import DiffusionConfig, DiffusionLink
from diffusion_link.core.training import TrainConfig, Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _train(cuda_graph: bool, steps: int) -> tuple[Trainer, list[dict]]:
    torch.manual_seed(0)
    model = DiffusionLink(DiffusionConfig(dim=64, width=128)).cuda()
    generator = torch.Generator().manual_seed(1)
    text = torch.randn(1024, 64, generator=generator).cuda()
    data = {"text": text, "audio": text + 0.3 * torch.randn(1024, 64, generator=generator).cuda()}
    config = TrainConfig(steps=steps, lr=1e-3, lr_decay_every=100, log_every=50)
    trainer = Trainer(model, cross_sample_objective(), data, config, cuda_graph=cuda_graph)
    return trainer, trainer.run().history


def test_cuda_graph_step_trains_like_the_eager_step():
    graph, graph_history = _train(True, 300)
    eager, eager_history = _train(False, 300)
    assert graph._graph is not None
    # The schedule reaches the captured Adam through its tensor learning rate.
    assert float(graph.optimizer.param_groups[0]["lr"]) == pytest.approx(1e-3 * 0.97**3)
    assert graph_history[-1]["loss"] < graph_history[0]["loss"]
    assert graph_history[-1]["loss"] == pytest.approx(eager_history[-1]["loss"], rel=0.2)
    for a, b in zip(graph.ema.parameters(), eager.ema.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=5e-3, rtol=5e-2)
