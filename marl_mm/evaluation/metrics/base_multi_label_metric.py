"""Data-sample collection shared by the multi-label metrics of marl_mm."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpretrain.structures import label_to_onehot


class BaseMultiLabelMetric(BaseMetric):
    """Collects ``pred_score`` and the ground truth of each data sample.

    ``process`` follows mmpretrain's ``MultiLabelMetric`` /
    ``VOCMetricMixin``: the target is ``gt_score`` when present (filled by
    ``ClsDataPreprocessor(to_onehot=True)``), else
    ``label_to_onehot(gt_label)``; labels listed in ``gt_label_difficult``
    and not also in the non-difficult labels are set to -1 (ignored). Unlike
    ``VOCMetricMixin`` it also works without ``gt_label_difficult`` (COCO,
    NUS-WIDE...), and it checks its input: a ``pred_score`` whose width
    differs from the number of classes, or a label index out of range,
    raises a ``ValueError`` instead of being evaluated silently.

    Not registered: subclasses implement ``compute_metrics``.

    Args:
        num_classes: expected number of classes. None: take it from
            ``dataset_meta['classes']`` when the evaluator has a dataset
            meta, else from the width of the first ``pred_score``.
        collect_device: ``'cpu'`` or ``'gpu'``, see ``BaseMetric``.
        prefix: key prefix; ``default_prefix`` is mmpretrain's
            ``'multi-label'``.
    """
    default_prefix: Optional[str] = 'multi-label'

    def __init__(self,
                 num_classes: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        if num_classes is not None and (isinstance(num_classes, bool)
                                        or not isinstance(num_classes, int)
                                        or num_classes < 1):
            raise ValueError(f'{type(self).__name__}: num_classes must be a '
                             f'positive int or None, got {num_classes!r}')
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes

    def _expected_num_classes(self) -> Tuple[Optional[int], str]:
        """Number of classes the scores must have, and where it comes from."""
        if self.num_classes is not None:
            return self.num_classes, 'num_classes'
        classes = (self.dataset_meta or {}).get('classes')
        if classes is not None:
            return len(classes), "dataset_meta['classes']"
        return None, ''

    def _label_indices(self, labels, field: str, index: int,
                       num_classes: int) -> torch.Tensor:
        """A label list/tensor as a 1-D long tensor of valid class indices."""
        labels = torch.as_tensor(
            labels if labels is not None else [],
            dtype=torch.long).reshape(-1)  # (L,)
        if labels.numel() and (labels.min() < 0
                               or labels.max() >= num_classes):
            raise ValueError(
                f'{type(self).__name__}: data sample {index} of the batch '
                f'has {field} {labels.tolist()} outside [0, {num_classes}) '
                f'({num_classes} classes)')
        return labels

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Store ``pred_score`` and the {1, 0, -1} target of each sample.

        Args:
            data_batch: the data batch (unused).
            data_samples: model outputs, dicts (as the Evaluator passes
                them) or ``DataSample`` objects.
        """
        expected, source = self._expected_num_classes()
        name = type(self).__name__
        for i, sample in enumerate(data_samples):
            pred = sample.get('pred_score')
            if pred is None:
                raise ValueError(
                    f'{name}: data sample {i} of the batch has no pred_score '
                    '(the head must call set_pred_score)')
            pred = torch.as_tensor(pred).detach().cpu().float()
            if pred.ndim != 1:
                raise ValueError(
                    f'{name}: pred_score of data sample {i} of the batch '
                    'must be 1-D (num_classes,), got shape '
                    f'{tuple(pred.shape)}')
            num_classes = pred.numel()
            if expected is not None and num_classes != expected:
                raise ValueError(
                    f'{name}: pred_score of data sample {i} of the batch has '
                    f'{num_classes} classes but {source} says '
                    f'{expected}')

            gt_label = sample.get('gt_label')
            if sample.get('gt_score') is not None:
                target = torch.as_tensor(sample.get('gt_score')).detach()
                target = target.cpu().reshape(-1)  # (D,)
                if target.numel() != num_classes:
                    raise ValueError(
                        f'{name}: gt_score of data sample {i} of the batch '
                        f'has {target.numel()} entries but pred_score has '
                        f'{num_classes}')
                if not torch.isin(target, target.new_tensor([0, 1])).all():
                    raise ValueError(
                        f'{name}: gt_score of data sample {i} of the batch '
                        f'must be multi-hot 0/1, got {target.tolist()}')
                target = target.long()
            elif gt_label is not None:
                labels = self._label_indices(gt_label, 'gt_label', i,
                                             num_classes)
                target = label_to_onehot(labels, num_classes).long().clamp(
                    max=1)  # (D,)
            else:
                raise ValueError(
                    f'{name}: data sample {i} of the batch has neither '
                    'gt_score nor gt_label')

            difficult = sample.get('gt_label_difficult')
            if difficult is not None and len(difficult):
                difficult = self._label_indices(difficult,
                                                'gt_label_difficult', i,
                                                num_classes)
                only_difficult = torch.zeros_like(target, dtype=torch.bool)
                only_difficult[difficult] = True
                only_difficult &= target == 0  # a label both ways is positive
                target = target.masked_fill(only_difficult, -1)  # (D,)

            self.results.append(dict(pred_score=pred.clone(), target=target))

    def _stack_results(self,
                       results: List[dict]) -> Tuple[np.ndarray, np.ndarray]:
        """``(N, D)`` float64 scores and ``(N, D)`` {1, 0, -1} targets."""
        name = type(self).__name__
        if not results:
            raise ValueError(f'{name}: no data sample was processed')
        widths = {res['pred_score'].numel() for res in results}
        if len(widths) > 1:
            raise ValueError(f'{name}: the data samples have pred_score of '
                             f'different widths {sorted(widths)}')
        scores = torch.stack([res['pred_score'] for res in results])
        target = torch.stack([res['target'] for res in results])
        return scores.double().numpy(), target.numpy()

    def _warn_empty_classes(self, num_gt: np.ndarray, empty_class: str,
                            what: str) -> None:
        """Log which classes have no positive and how they are counted."""
        empty = np.flatnonzero(num_gt == 0)
        if not empty.size:
            return
        classes = (self.dataset_meta or {}).get('classes')
        names = [
            classes[c] if classes is not None else int(c) for c in empty[:10]
        ]
        more = f' and {empty.size - 10} more' if empty.size > 10 else ''
        rule = ('count as 0 in'
                if empty_class == 'zero' else 'are left out of')
        MMLogger.get_current_instance().warning(
            f'{type(self).__name__}: {empty.size} class(es) have no positive '
            f'(non-difficult) label in the evaluated set ({names}{more}); '
            f'their {what} {rule} the class mean (empty_class='
            f"'{empty_class}')")
