"""The sequential part's network: what a request computes is what training computes."""

import pytest
import torch

from contextiq.ml.sequence_net import SequenceEncoder


@pytest.mark.parametrize("padding", [0, 3])
def test_the_latest_position_alone_is_the_full_pass_at_that_position(padding: int) -> None:
    torch.manual_seed(0)
    encoder = SequenceEncoder(dim=16, blocks=2, heads=2, max_len=8, dropout=0.2).eval()
    items = torch.randn(3, 8, 16)
    present = torch.ones(3, 8, dtype=torch.bool)
    present[1, :padding] = False  # a shorter history, left-padded
    with torch.inference_mode():
        full = encoder(items, present)
        latest = encoder(items, present, latest=True)
    assert latest.shape == (3, 1, 16)
    torch.testing.assert_close(latest[:, 0], full[:, -1], rtol=1e-5, atol=1e-5)
