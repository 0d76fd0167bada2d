"""average_predictions: per-image mean of pred_score over models, with the
same images in the same order enforced."""
import pytest
import torch
from mmpretrain.structures import DataSample

from marl_mm.models.tta import average_predictions


def _sample(idx, score, path=None, label=None):
    meta = dict(sample_idx=idx)
    if path is not None:
        meta['img_path'] = path
    ds = DataSample(metainfo=meta).set_gt_label([0]).set_pred_score(
        torch.tensor(score))
    if label is not None:
        ds.set_pred_label(label)
    return ds


def test_datasamples_are_averaged():
    a = [_sample(0, [0.2, 0.8, 0.5], 'a.jpg', label=[1]),
         _sample(1, [0.9, 0.1, 0.0], 'b.jpg')]
    b = [_sample(0, [0.4, 0.2, 0.5], 'a.jpg'),
         _sample(1, [0.3, 0.3, 1.0], 'b.jpg')]
    c = [_sample(0, [0.0, 0.5, 0.2], 'a.jpg'),
         _sample(1, [0.0, 0.2, 0.5], 'b.jpg')]
    out = average_predictions([a, b, c])
    torch.testing.assert_close(out[0].pred_score,
                               torch.tensor([0.2, 0.5, 0.4]))
    torch.testing.assert_close(out[1].pred_score,
                               torch.tensor([0.4, 0.2, 0.5]))
    assert out[0].sample_idx == 0 and out[1].img_path == 'b.jpg'
    assert out[0].gt_label.tolist() == [0]  # ground truth kept
    assert 'pred_label' not in out[0]  # described model 0 alone
    # inputs untouched
    torch.testing.assert_close(a[0].pred_score, torch.tensor([0.2, 0.8, 0.5]))
    assert 'pred_label' in a[0]


def test_evaluator_dicts_are_averaged():
    a = [dict(sample_idx=3, pred_score=torch.tensor([1., 0.]),
              pred_label=torch.tensor([0]), gt_label=torch.tensor([1]))]
    b = [dict(sample_idx=3, pred_score=torch.tensor([0., 0.5]),
              gt_label=torch.tensor([1]))]
    out = average_predictions([a, b])
    assert isinstance(out[0], dict) and 'pred_label' not in out[0]
    torch.testing.assert_close(out[0]['pred_score'], torch.tensor([0.5, 0.25]))
    assert out[0]['gt_label'].tolist() == [1]


def test_single_model_is_identity():
    a = [_sample(0, [0.3, 0.7])]
    out = average_predictions([a])
    torch.testing.assert_close(out[0].pred_score, torch.tensor([0.3, 0.7]))


@pytest.mark.parametrize('second,match', [
    ([_sample(1, [0.1, 0.2], 'a.jpg')], r'sample_idx=0 .* sample_idx=1'),
    ([_sample(0, [0.1, 0.2], 'z.jpg')], "img_path='a.jpg'"),
    ([_sample(0, [0.1, 0.2]), _sample(1, [0.1, 0.2])], 'has 1 predictions'),
    ([_sample(0, [0.1, 0.2, 0.3], 'a.jpg')], 'shapes'),
    ([dict(sample_idx=0, img_path='a.jpg')], 'no pred_score'),
])
def test_mismatches_are_refused(second, match):
    first = [_sample(0, [0.5, 0.5], 'a.jpg')]
    with pytest.raises(ValueError, match=match):
        average_predictions([first, second])


def test_no_models_refused():
    with pytest.raises(ValueError, match='no model'):
        average_predictions([])
