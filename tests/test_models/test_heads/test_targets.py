"""multi_hot_targets: the targets both heads train on."""
import pytest
import torch

from marl_mm.models.heads.targets import multi_hot_targets
from mmpretrain.structures import DataSample


def test_gt_score_first_then_one_hot_of_gt_label():
    samples = [DataSample().set_gt_label([0, 2]),
               DataSample().set_gt_score(torch.tensor([0., .5, 1.]))]
    y = multi_hot_targets(samples, 3, torch.device('cpu'), 'Head')
    torch.testing.assert_close(y, torch.tensor([[1., 0., 1.],
                                                [0., .5, 1.]]))
    assert y.dtype == torch.float32


def test_errors_name_the_head_and_the_sample():
    with pytest.raises(ValueError, match=r'Head\.loss: data_samples\[1\] '
                       'has neither gt_score nor gt_label'):
        multi_hot_targets([DataSample().set_gt_label([0]), DataSample()], 3,
                          torch.device('cpu'), 'Head')
    with pytest.raises(ValueError, match='gt_score has 4 classes, expected 3'):
        multi_hot_targets([DataSample().set_gt_score(torch.zeros(4))], 3,
                          torch.device('cpu'), 'Head')
