"""Checks shared by the marl_mm multi-label datasets and their converters.

Images without any label ("unlabelled") are handled the same way by every
dataset here (default chosen here): dropped unless ``keep_empty=True``, and
the count is logged either way, never dropped silently. Both papers'
classification losses normalise the target, ``p_hat = y / ||y||_1``, which
is undefined for an all-zero ``y``; so keeping them is meant for evaluation
(``test_mode=True``), e.g. to reproduce RARNN's 40,504 COCO val images.
"""
from pathlib import Path
from typing import List, Sequence, Union

from mmengine.logging import MMLogger


def read_lines(path: Union[str, Path], layout: str) -> List[str]:
    """Stripped lines of a text file; trailing empty lines are dropped, an
    empty line inside the file is an error (it would shift every row after
    it against a parallel file).

    Args:
        path: the text file (a label list, an image list, a 0/1 column...).
        layout: where the expected files are described, named in the error
            of a missing file (e.g. the converter's path).

    Returns:
        list[str]: the lines.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: an empty line before the last non-empty one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path} not found (see the layout in '
                                f'{layout})')
    lines = [line.strip() for line in path.read_text().splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    for i, line in enumerate(lines):
        if not line:
            raise ValueError(f'{path}: line {i + 1} is empty')
    return lines


def check_label_indices(labels: Sequence, num_classes: int, source: str,
                        where: str) -> List[int]:
    """Return ``labels`` as a sorted list of distinct ints in range.

    Args:
        labels: class indices of one image.
        num_classes: number of classes of the dataset.
        source: the annotation file, named in errors.
        where: which entry of ``source`` (e.g. ``'data_list[3]'``).

    Returns:
        Sorted distinct class indices.

    Raises:
        TypeError: if ``labels`` is not a list of integers.
        ValueError: if an index is outside ``[0, num_classes)``.
    """
    if not isinstance(labels, (list, tuple)):
        raise TypeError(f'{source}: {where}.gt_label must be a list of class '
                        f'indices, got {type(labels).__name__}')
    out = set()
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, int):
            raise TypeError(f'{source}: {where}.gt_label holds {label!r}; '
                            'expected integer class indices')
        if not 0 <= label < num_classes:
            raise ValueError(
                f'{source}: {where}.gt_label holds {label}, outside '
                f'[0, {num_classes}) for the {num_classes} classes')
        out.add(label)
    return sorted(out)


def handle_unlabelled(data_list: List[dict], keep_empty: bool,
                      test_mode: bool, dataset: str,
                      source: str) -> List[dict]:
    """Drop (or keep) images whose ``gt_label`` is empty; log the count.

    Args:
        data_list: parsed entries, each with a ``gt_label`` list.
        keep_empty: keep unlabelled images with an empty target.
        test_mode: whether the dataset is built for evaluation (only used
            to warn when empty targets reach a training loss).
        dataset: dataset class name for the log line.
        source: annotation file for the log line.

    Returns:
        The entries to use.

    Raises:
        ValueError: if every image is unlabelled and ``keep_empty`` is
            False (the dataset would be empty).
    """
    logger = MMLogger.get_current_instance()
    n_empty = sum(1 for d in data_list if len(d['gt_label']) == 0)
    if keep_empty:
        logger.info(f'{dataset} ({source}): {len(data_list)} images, '
                    f'{n_empty} without any label kept with an empty '
                    'target (keep_empty=True)')
        if n_empty and not test_mode:
            logger.warning(
                f'{dataset} ({source}): {n_empty} training images have an '
                'empty target; losses on y / ||y||_1 are undefined for them')
        return data_list
    kept = [d for d in data_list if len(d['gt_label']) > 0]
    if data_list and not kept:
        raise ValueError(
            f'{dataset}: none of the {len(data_list)} images of {source} '
            'has a label; expected at least one labelled image (set '
            'keep_empty=True to evaluate on unlabelled images)')
    logger.info(f'{dataset} ({source}): {len(kept)} images; {n_empty} '
                'without any label dropped (keep_empty=False)')
    return kept
