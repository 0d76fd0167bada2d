"""Averaging the per-image probabilities of several models.

RARL (Chen et al., AAAI 2018, Table 1/2 "Ours"): the final result averages
the scores of the N = 512 and the N = 640 models, each tested with ten views
(paper: plain mean of the probabilities; no weights). The averaging is kept
here, apart from the tool (``tools/ensemble_test.py``), so that it can be
tested and reused on dumped predictions (``tools/test.py --out``).
"""
from typing import Any, Dict, List, Sequence, Union

import torch
from mmpretrain.structures import DataSample

Prediction = Union[DataSample, Dict[str, Any]]

#: the fields that must agree between models for the same position
IDENTITY_KEYS = ('sample_idx', 'img_path')


def _get(pred: Prediction, key: str, default: Any = None) -> Any:
    if isinstance(pred, DataSample):
        return pred.get(key, default)
    return pred.get(key, default)


def average_predictions(
        predictions: Sequence[Sequence[Prediction]]) -> List[Prediction]:
    """Mean ``pred_score`` over models, image by image.

    Args:
        predictions: One list per model, each with one prediction per test
            image, as :class:`DataSample` or as the dicts that mmengine's
            evaluator and ``DumpResults`` hold. Every list must describe the
            same images in the same order: where ``sample_idx`` or
            ``img_path`` is present in both, they must be equal.

    Returns:
        list: One prediction per image, of the first model's type, copied
        from the first model's prediction (ground truth and meta included)
        with ``pred_score`` replaced by the mean over models (``float32``)
        and any ``pred_label`` removed (it would describe the first model
        alone).

    Raises:
        ValueError: No models, lists of different lengths, a missing
            ``pred_score``, mismatched score shapes, or different images at
            the same position.
    """
    if len(predictions) == 0:
        raise ValueError('average_predictions: got no model predictions')
    num = len(predictions[0])
    for m, preds in enumerate(predictions):
        if len(preds) != num:
            raise ValueError(
                f'average_predictions: model 0 has {num} predictions but '
                f'model {m} has {len(preds)}; both must cover the same test '
                'set')
    averaged = []
    for i in range(num):
        per_model = [preds[i] for preds in predictions]
        first = per_model[0]
        for m, pred in enumerate(per_model[1:], start=1):
            for key in IDENTITY_KEYS:
                a, b = _get(first, key), _get(pred, key)
                if a is not None and b is not None and a != b:
                    raise ValueError(
                        f'average_predictions: image {i} has {key}={a!r} '
                        f'for model 0 but {key}={b!r} for model {m}; the '
                        'models were tested on different images or in a '
                        'different order')
        scores = []
        for m, pred in enumerate(per_model):
            score = _get(pred, 'pred_score')
            if score is None:
                raise ValueError(f'average_predictions: image {i} of model '
                                 f'{m} has no pred_score')
            scores.append(torch.as_tensor(score).float().cpu())
        if any(s.shape != scores[0].shape for s in scores):
            raise ValueError(
                f'average_predictions: image {i} has pred_score shapes '
                f'{[tuple(s.shape) for s in scores]}; the models must '
                'predict the same classes')
        mean = torch.stack(scores).mean(0)  # (D,)
        if isinstance(first, DataSample):
            out = first.clone()
            if 'pred_label' in out:
                del out.pred_label
            out.set_pred_score(mean)
        else:
            out = {k: v for k, v in first.items() if k != 'pred_label'}
            out['pred_score'] = mean
        averaged.append(out)
    return averaged
