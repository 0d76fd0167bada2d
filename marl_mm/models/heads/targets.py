"""Multi-hot targets of a batch of ``DataSample`` s, shared by the heads."""
from typing import List

import torch

from mmpretrain.structures import DataSample, label_to_onehot


def multi_hot_targets(data_samples: List[DataSample], num_classes: int,
                      device: torch.device, owner: str) -> torch.Tensor:
    """``(B, D)`` float targets: ``gt_score`` where a sample has it (the
    data preprocessor's ``to_onehot``), else the one-hot of ``gt_label``.

    Args:
        data_samples: the batch's samples.
        num_classes: D.
        device: where the targets go.
        owner: the head's name, for error messages.

    Returns:
        torch.Tensor: ``(B, D)`` float32.

    Raises:
        ValueError: a sample has neither field, or ``gt_score`` has another
            number of classes.
    """
    rows = []
    for i, ds in enumerate(data_samples):
        if 'gt_score' in ds:
            rows.append(ds.gt_score.float())
        elif 'gt_label' in ds:
            rows.append(label_to_onehot(ds.gt_label, num_classes).float())
        else:
            raise ValueError(f'{owner}.loss: data_samples[{i}] has neither '
                             'gt_score nor gt_label')
    y = torch.stack(rows).to(device)  # (B, D)
    if y.shape[-1] != num_classes:
        raise ValueError(f'{owner}.loss: gt_score has {y.shape[-1]} '
                         f'classes, expected {num_classes}')
    return y
