"""Split a VOC image set into two seeded, disjoint image sets.

Used for integration runs on a VOC folder that has only one official split
(e.g. a folder that holds the official ``train`` images only): the
output files are ordinary VOC ``ImageSets`` lists that ``VOC`` reads through
``image_set_path`` (an absolute path works; the data folder itself is never
written to).

    python tools/dataset_converters/make_voc_split.py \
        path/to/VOCdevkit/VOC2007 work_dirs/voc_split \
        --split train --num-val 500
"""
import argparse
import random
from pathlib import Path


def make_split(voc_root: str, out_dir: str, split: str = 'train',
               num_val: int = 500, seed: int = 0) -> tuple:
    """Write ``<out_dir>/{sub_train,sub_val}.txt`` and return their paths."""
    src = Path(voc_root) / 'ImageSets' / 'Main' / f'{split}.txt'
    if not src.is_file():
        raise FileNotFoundError(
            f'{src} not found: expected a VOCdevkit/VOC2007 folder with '
            f'ImageSets/Main/{split}.txt')
    ids = [x.strip() for x in src.read_text().splitlines() if x.strip()]
    if len(set(ids)) != len(ids):
        raise ValueError(f'{src}: duplicate image ids')
    if not 0 < num_val < len(ids):
        raise ValueError(
            f'--num-val must be in 1..{len(ids) - 1} for {src}, got {num_val}')
    rng = random.Random(seed)
    shuffled = ids[:]
    rng.shuffle(shuffled)
    val = sorted(shuffled[:num_val])
    train = sorted(shuffled[num_val:])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / 'sub_train.txt', out / 'sub_val.txt')
    for path, part in zip(paths, (train, val)):
        path.write_text('\n'.join(part) + '\n')
    return tuple(str(p.resolve()) for p in paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('voc_root', help='the VOC2007 folder')
    parser.add_argument('out_dir', help='where to write the two lists')
    parser.add_argument('--split', default='train')
    parser.add_argument('--num-val', type=int, default=500)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    train, val = make_split(args.voc_root, args.out_dir, args.split,
                            args.num_val, args.seed)
    print(f'wrote {train} and {val}')


if __name__ == '__main__':
    main()
