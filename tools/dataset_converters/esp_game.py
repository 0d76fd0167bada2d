"""Convert TagProp's ESP Game files into mmpretrain's multi-label json.

The TagProp split (Guillaumin et al., ICCV 2009; RARNN, Li et al. ACM MM
2018, Sec. 4.5) comes as, under ROOT:

    espgame_dictionary.txt        the 268 labels, one a line
    espgame_train_list.txt        one image a line (about 18,689)
    espgame_test_list.txt         one image a line (about 2,081)
    espgame_train_annot.hvecs     the (N, 268) 0/1 label matrix, row i for
    espgame_test_annot.hvecs      line i of the list

``.hvecs`` is LEAR's binary vector format, as its ``vec_read.m`` reads it:
per row, a little-endian **uint16** length ``d`` followed by ``d`` uint16
values (``.hvecs32``: uint32 length and values; checked against LEAR's
``vec_read.m`` and a Python reader of the same files, not against the
files themselves). A plain-text matrix (``.txt``: one row a line, ``d``
whitespace-separated 0/1 values) is read too (``--annot-ext .txt``).

Image-list lines are paths without extension (e.g. ``images/1234``); the
image is ``<basename><img-ext>`` (``--img-ext .jpg``; lines that already end
in an image extension keep it) under the dataset's image folder, read by the
``ESPGame`` dataset with ``data_prefix='images'``. Writes
``<out-dir>/espgame_train.json`` and ``espgame_test.json``. Images without
any label are dropped (counts printed) unless ``--keep-empty``.

    python tools/dataset_converters/esp_game.py data/espgame
"""
import argparse
import json
import os.path as osp
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from marl_mm.datasets.utils import read_lines

#: where the expected files are described (this module's docstring)
LAYOUT = 'tools/dataset_converters/esp_game.py'

NUM_LABELS = 268
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.gif', '.bmp')
#: element type of each binary format (the row length has the same type)
VEC_DTYPES = {'.hvecs': np.dtype('<u2'), '.hvecs32': np.dtype('<u4')}


def read_hvecs(path: Path) -> np.ndarray:
    """Read a LEAR ``.hvecs`` / ``.hvecs32`` file as an ``(N, d)`` array.

    Args:
        path: the file; its extension selects the element type.

    Returns:
        ``(N, d)`` int64 array.
    """
    dtype = VEC_DTYPES.get(path.suffix)
    if dtype is None:
        raise ValueError(f'{path}: unknown vector format {path.suffix!r}, '
                         f'expected one of {tuple(VEC_DTYPES)}')
    if not path.is_file():
        raise FileNotFoundError(f'{path} not found')
    raw = np.fromfile(path, dtype=dtype)
    if raw.size == 0:
        raise ValueError(f'{path} is empty')
    d = int(raw[0])
    if d == 0 or raw.size % (d + 1):
        raise ValueError(
            f'{path}: {raw.size * dtype.itemsize} bytes do not split into '
            f'rows of a {dtype.itemsize}-byte length {d} plus {d} values; '
            f'not a {path.suffix} file, or truncated')
    rows = raw.reshape(-1, d + 1)
    bad = np.flatnonzero(rows[:, 0] != d)
    if bad.size:
        raise ValueError(f'{path}: row {bad[0]} has length '
                         f'{rows[bad[0], 0]}, row 0 has {d}')
    return rows[:, 1:].astype(np.int64)


def read_text_matrix(path: Path) -> np.ndarray:
    """Read a plain-text matrix, one row a line."""
    rows = [line.split() for line in read_lines(path, LAYOUT)]
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f'{path}: line {i + 1} has {len(row)} values, '
                             f'line 1 has {width}')
    try:
        return np.array(rows, dtype=np.int64)
    except ValueError as e:
        raise ValueError(f'{path}: values must be integers 0/1: {e}') from e


def read_annotations(path: Path) -> np.ndarray:
    """``(N, d)`` bool label matrix from ``.hvecs``/``.hvecs32``/``.txt``."""
    matrix = read_text_matrix(path) if path.suffix == '.txt' else \
        read_hvecs(path)
    bad = np.argwhere((matrix != 0) & (matrix != 1))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f'{path}: row {i}, column {j} is {matrix[i, j]}, '
                         'expected a 0/1 label matrix')
    return matrix.astype(bool)


def image_name(line: str, img_ext: str) -> str:
    """``images/1234`` -> ``1234.jpg``."""
    name = osp.basename(line.replace('\\', '/'))
    if img_ext and not name.lower().endswith(IMAGE_EXTS):
        name += img_ext
    return name


def write_json(path: Path, classes: Sequence[str],
               data_list: List[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(metainfo=dict(classes=list(classes)),
                       data_list=data_list), f)


def convert(root: str,
            out_dir: Optional[str] = None,
            annot_ext: str = '.hvecs',
            img_ext: str = '.jpg',
            keep_empty: bool = False,
            prefix: str = 'espgame') -> dict:
    """Write the two json files; return the counts.

    Args:
        root: folder with TagProp's ESP Game files.
        out_dir: where to write (default ``<root>/annotations``).
        annot_ext: annotation format, ``'.hvecs'``, ``'.hvecs32'`` or
            ``'.txt'``.
        img_ext: appended to list lines without an image extension.
        keep_empty: keep images without labels.
        prefix: file-name prefix of the TagProp files.

    Returns:
        dict of counts ``listed_<split>``, ``unlabelled_<split>``,
        ``<split>`` for ``split`` in ``train, test``, and ``out_dir``.
    """
    base = Path(root)
    dict_path = base / f'{prefix}_dictionary.txt'
    classes = read_lines(dict_path, LAYOUT)
    if len(classes) != NUM_LABELS:
        raise ValueError(f'{dict_path} lists {len(classes)} labels, '
                         f'expected {NUM_LABELS}')
    out_path = Path(out_dir) if out_dir else base / 'annotations'
    counts = {}
    for split in ('train', 'test'):
        list_path = base / f'{prefix}_{split}_list.txt'
        annot_path = base / f'{prefix}_{split}_annot{annot_ext}'
        names = [image_name(x, img_ext)
                 for x in read_lines(list_path, LAYOUT)]
        labels = read_annotations(annot_path)
        if labels.shape[0] != len(names):
            raise ValueError(
                f'{annot_path} has {labels.shape[0]} rows but {list_path} '
                f'lists {len(names)} images; they must match row for line')
        if labels.shape[1] != len(classes):
            raise ValueError(
                f'{annot_path} has {labels.shape[1]} columns but '
                f'{dict_path} lists {len(classes)} labels')
        labelled = labels.any(axis=1)
        data_list = [
            dict(img_path=n, gt_label=np.flatnonzero(row).tolist())
            for n, row, ok in zip(names, labels, labelled)
            if ok or keep_empty
        ]
        write_json(out_path / f'espgame_{split}.json', classes, data_list)
        counts[f'listed_{split}'] = len(names)
        counts[f'unlabelled_{split}'] = int((~labelled).sum())
        counts[split] = len(data_list)
    counts['out_dir'] = str(out_path)
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description="Convert TagProp's ESP Game files to mmpretrain json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__)
    parser.add_argument('root', help="folder with TagProp's espgame_* files")
    parser.add_argument('--out-dir', help='default: ROOT/annotations')
    parser.add_argument('--annot-ext', default='.hvecs',
                        choices=['.hvecs', '.hvecs32', '.txt'])
    parser.add_argument('--img-ext', default='.jpg')
    parser.add_argument('--keep-empty', action='store_true')
    parser.add_argument('--prefix', default='espgame')
    args = parser.parse_args(argv)
    c = convert(args.root, args.out_dir, args.annot_ext, args.img_ext,
                args.keep_empty, args.prefix)
    for split in ('train', 'test'):
        print(f"{split}: {c[f'listed_{split}']} listed, "
              f"{c[f'unlabelled_{split}']} without any label "
              f"({'kept' if args.keep_empty else 'dropped'}), "
              f'{c[split]} written')
    print(f"json files in {c['out_dir']}")


if __name__ == '__main__':
    main()
