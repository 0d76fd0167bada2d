"""Convert the official NUS-WIDE files into mmpretrain's multi-label json.

Reads, under ROOT (the official names; each can be moved with an option):

    ConceptsList/Concepts81.txt              the 81 concepts, one a line
    ImageList/TrainImagelist.txt             one image a line, official train
    ImageList/TestImagelist.txt              one image a line, official test
    Groundtruth/TrainTestLabels/Labels_<concept>_Train.txt   0/1 per line,
    Groundtruth/TrainTestLabels/Labels_<concept>_Test.txt    same order as
                                                             the image list

and writes ``<out-dir>/nus_wide_train.json`` and ``nus_wide_test.json``
(``{"metainfo": {"classes": [...81]}, "data_list": [{"img_path":
"<concept>/<file>.jpg", "gt_label": [...]}, ...]}``), read by the
``NUSWIDE`` dataset with ``data_prefix='Flickr'``. Image-list lines such as
``C:\\ImageData\\Flickr\\actor\\0001_2124494179.jpg`` keep their last two
components (``actor/0001_2124494179.jpg``), the folder layout of the
official image archive.

Images with none of the 81 labels are dropped, and the counts are printed.

Splits (``--split``):

* ``gong2013`` (default): the split RARNN uses (Li et al., ACM MM 2018,
  Sec. 4.3, following Gong et al. 2013, arXiv:1312.4894): the 209,347
  labelled images of the official lists, 150,000 for training and the
  other 59,347 for testing. The papers give the sizes, not the image ids,
  so this draws the 150,000 at random with ``--seed`` (default chosen
  here): the sizes match, the membership is this converter's.
* ``official``: the official train / test lists (161,789 / 107,859 images
  before dropping the unlabelled ones).

    python tools/dataset_converters/nus_wide.py data/nus-wide
"""
import argparse
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from marl_mm.datasets.utils import read_lines

#: where the expected files are described (this module's docstring)
LAYOUT = 'tools/dataset_converters/nus_wide.py'

NUM_CONCEPTS = 81
GONG2013_NUM_TRAIN = 150_000


def image_rel_path(line: str) -> str:
    """``C:\\...\\Flickr\\actor\\x.jpg`` -> ``actor/x.jpg``."""
    parts = [p for p in line.replace('\\', '/').split('/') if p]
    return '/'.join(parts[-2:])


def read_label_column(path: Path, list_file: Path, num_images: int
                      ) -> np.ndarray:
    """One concept's 0/1 labels, checked against the image list length."""
    lines = read_lines(path, LAYOUT)
    if len(lines) != num_images:
        raise ValueError(
            f'{path} has {len(lines)} lines but {list_file} lists '
            f'{num_images} images; they must match line by line')
    values = np.array(lines)
    bad = np.flatnonzero((values != '0') & (values != '1'))
    if bad.size:
        value = str(values[bad[0]])  # a plain str, not numpy's repr
        raise ValueError(f'{path}: line {bad[0] + 1} is {value!r}, '
                         'expected 0 or 1')
    return values == '1'


def read_official_split(concepts: Sequence[str], image_list: Path,
                        labels_dir: Path, split: str) -> Dict[str, object]:
    """Image paths and the (N, 81) bool label matrix of an official split.

    Args:
        concepts: the concept names.
        image_list: ``TrainImagelist.txt`` or ``TestImagelist.txt``.
        labels_dir: folder of ``Labels_<concept>_<Split>.txt``.
        split: ``'Train'`` or ``'Test'``.

    Returns:
        dict with ``paths`` (list of str) and ``labels`` ((N, 81) bool).
    """
    paths = [image_rel_path(x) for x in read_lines(image_list, LAYOUT)]
    columns = [
        read_label_column(labels_dir / f'Labels_{c}_{split}.txt', image_list,
                          len(paths)) for c in concepts
    ]
    return dict(paths=paths, labels=np.stack(columns, axis=1))


def to_data_list(paths: Sequence[str], labels: np.ndarray) -> List[dict]:
    return [
        dict(img_path=p, gt_label=np.flatnonzero(row).tolist())
        for p, row in zip(paths, labels)
    ]


def write_json(path: Path, classes: Sequence[str],
               data_list: List[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(metainfo=dict(classes=list(classes)),
                       data_list=data_list), f)


def convert(root: str,
            out_dir: Optional[str] = None,
            split: str = 'gong2013',
            num_train: int = GONG2013_NUM_TRAIN,
            seed: int = 0,
            concepts_file: str = 'ConceptsList/Concepts81.txt',
            image_list_dir: str = 'ImageList',
            labels_dir: str = 'Groundtruth/TrainTestLabels') -> dict:
    """Write the two json files; return the counts.

    Args:
        root: the NUS-WIDE folder.
        out_dir: where to write (default ``<root>/annotations``).
        split: ``'gong2013'`` or ``'official'`` (see the module docstring).
        num_train: training images of the ``gong2013`` split.
        seed: seed of the ``gong2013`` draw.
        concepts_file, image_list_dir, labels_dir: the official files,
            relative to ``root`` unless absolute.

    Returns:
        dict of counts: ``listed_train``, ``listed_test``,
        ``unlabelled_train``, ``unlabelled_test``, ``train``, ``test``.
    """
    if split not in ('gong2013', 'official'):
        raise ValueError(f"split must be 'gong2013' or 'official', got "
                         f'{split!r}')
    base = Path(root)
    concepts_path = base / concepts_file
    concepts = read_lines(concepts_path, LAYOUT)
    if len(concepts) != NUM_CONCEPTS:
        raise ValueError(f'{concepts_path} lists {len(concepts)} concepts, '
                         f'expected {NUM_CONCEPTS}')
    if len(set(concepts)) != len(concepts):
        raise ValueError(f'{concepts_path}: duplicate concept names')
    lists_dir = base / image_list_dir
    parts = {
        name: read_official_split(concepts,
                                  lists_dir / f'{name}Imagelist.txt',
                                  base / labels_dir, name)
        for name in ('Train', 'Test')
    }
    counts = {}
    kept = {}
    for name, part in parts.items():
        labelled = part['labels'].any(axis=1)
        counts[f'listed_{name.lower()}'] = len(part['paths'])
        counts[f'unlabelled_{name.lower()}'] = int((~labelled).sum())
        kept[name] = ([p for p, ok in zip(part['paths'], labelled) if ok],
                      part['labels'][labelled])

    if split == 'official':
        out = {'train': kept['Train'], 'test': kept['Test']}
    else:
        paths = kept['Train'][0] + kept['Test'][0]
        labels = np.concatenate([kept['Train'][1], kept['Test'][1]])
        if not 0 < num_train < len(paths):
            raise ValueError(
                f'num_train={num_train} must be in 1..{len(paths) - 1}: '
                f'there are {len(paths)} labelled images')
        order = np.random.default_rng(seed).permutation(len(paths))
        train_idx = np.sort(order[:num_train])
        test_idx = np.sort(order[num_train:])
        out = {
            'train': ([paths[i] for i in train_idx], labels[train_idx]),
            'test': ([paths[i] for i in test_idx], labels[test_idx]),
        }
    out_path = Path(out_dir) if out_dir else base / 'annotations'
    for name, (paths, labels) in out.items():
        write_json(out_path / f'nus_wide_{name}.json', concepts,
                   to_data_list(paths, labels))
        counts[name] = len(paths)
    counts['out_dir'] = str(out_path)
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description='Convert official NUS-WIDE files to mmpretrain json',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__)
    parser.add_argument('root', help='the NUS-WIDE folder')
    parser.add_argument('--out-dir', help='default: ROOT/annotations')
    parser.add_argument('--split', choices=['gong2013', 'official'],
                        default='gong2013')
    parser.add_argument('--num-train', type=int, default=GONG2013_NUM_TRAIN)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--concepts-file',
                        default='ConceptsList/Concepts81.txt')
    parser.add_argument('--image-list-dir', default='ImageList')
    parser.add_argument('--labels-dir', default='Groundtruth/TrainTestLabels')
    args = parser.parse_args(argv)
    c = convert(args.root, args.out_dir, args.split, args.num_train,
                args.seed, args.concepts_file, args.image_list_dir,
                args.labels_dir)
    print(f"official lists: {c['listed_train']} train / {c['listed_test']} "
          f"test images; without any of the 81 labels (dropped): "
          f"{c['unlabelled_train']} train / {c['unlabelled_test']} test")
    print(f"{args.split} split written to {c['out_dir']}: {c['train']} train "
          f"/ {c['test']} test")


if __name__ == '__main__':
    main()
