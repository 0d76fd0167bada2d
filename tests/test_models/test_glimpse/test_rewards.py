"""TopKRecallReward on hand-made cases."""
import pytest
import torch

from marl_mm.models.glimpse import TopKRecallReward


def test_k_equals_num_gt():
    scores = torch.tensor([[0.9, 0.1, 0.8, 0.3],    # GT {0, 1}: top2 {0, 2}
                           [0.1, 0.2, 0.3, 0.4],    # GT {3}: top1 {3}
                           [0.5, 0.4, 0.3, 0.2]])   # GT {1,2,3}: top3 {0,1,2}
    gt = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 1], [0, 1, 1, 1]])
    reward, valid = TopKRecallReward()(scores, gt)
    torch.testing.assert_close(reward, torch.tensor([0.5, 1., 2 / 3]))
    assert valid.all()


def test_ties_break_to_lower_class_index():
    scores = torch.tensor([[0.5, 0.5, 0.5, 0.1], [0.5, 0.5, 0.5, 0.1]])
    gt = torch.tensor([[1, 0, 0, 0], [0, 0, 1, 0]])
    reward, _ = TopKRecallReward()(scores, gt)
    torch.testing.assert_close(reward, torch.tensor([1., 0.]))


def test_no_label_image_is_invalid_with_zero_reward():
    scores = torch.tensor([[0.2, 0.7], [0.3, 0.1]])
    gt = torch.tensor([[0, 0], [1, 0]])
    reward, valid = TopKRecallReward()(scores, gt)
    torch.testing.assert_close(reward, torch.tensor([0., 1.]))
    assert valid.tolist() == [False, True]


def test_fixed_k():
    scores = torch.tensor([[0.9, 0.1, 0.8, 0.3, 0.0]])
    gt = torch.tensor([[0, 1, 1, 1, 0]])
    # top-3 = {0, 2, 3}: 2 of 3 GT labels
    reward, _ = TopKRecallReward(topk=3)(scores, gt)
    torch.testing.assert_close(reward, torch.tensor([2 / 3]))
    reward, _ = TopKRecallReward(topk=1)(scores, gt)
    torch.testing.assert_close(reward, torch.tensor([0.]))
    with pytest.raises(ValueError, match='topk'):
        TopKRecallReward(topk=0)
