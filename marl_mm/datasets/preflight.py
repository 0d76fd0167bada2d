"""Check that the data a config points to exists, before any runner starts.

A missing dataset otherwise surfaces late and far from its cause (inside a
dataloader worker, after the model is built). :func:`check_data_roots`
walks the dataset configs of the train / val / test dataloaders (through
``ConcatDataset`` / ``RepeatDataset`` / ``ClassBalancedDataset`` /
``KFoldDataset`` wrappers) and raises one ``FileNotFoundError`` that names,
for each missing path, the config field, the path, and the on-disk layout
the dataset type expects. ``tools/train.py`` and ``tools/test.py`` call it.
"""
import os.path as osp
from typing import Iterator, List, Sequence, Tuple

from .coco_multilabel import COCO_LAYOUT
from .esp_game import ESP_GAME_LAYOUT
from .nus_wide import NUS_WIDE_LAYOUT
from .strict_voc import VOC_LAYOUT

JSON_LAYOUT = """\
    <data_root>/
    |-- <ann_file>.json     {"metainfo": {"classes": [...]},
    |                        "data_list": [{"img_path": ..., "gt_label": [...]}]}
    `-- <data_prefix>/...   the images named by img_path"""

SHAPES_LAYOUT = """\
    data/shapes/            made by: python tools/dataset_converters/generate_shapes.py
    |-- train.json, val.json
    `-- images/{train,val}/<n>.jpg"""

#: expected on-disk layout per dataset type, shown in the error
DATA_LAYOUTS = {
    'VOC': VOC_LAYOUT,
    'StrictVOC': VOC_LAYOUT,
    'COCOMultiLabel': COCO_LAYOUT,
    'NUSWIDE': NUS_WIDE_LAYOUT,
    'ESPGame': ESP_GAME_LAYOUT,
    'MultiLabelDataset': JSON_LAYOUT,
    'CheckedMultiLabelDataset': JSON_LAYOUT,
}

#: dataset wrappers and the keys holding their inner dataset config(s)
WRAPPERS = {
    'ConcatDataset': 'datasets',
    'RepeatDataset': 'dataset',
    'ClassBalancedDataset': 'dataset',
    'KFoldDataset': 'dataset',
}

HINT = "see README section 'Data preparation'"


def _type_name(cfg: dict) -> str:
    t = cfg.get('type', '')
    return t if isinstance(t, str) else getattr(t, '__name__', str(t))


def _leaf_datasets(cfg, field: str) -> Iterator[Tuple[str, dict]]:
    """Yield ``(field, dataset_cfg)`` of every non-wrapper dataset."""
    if not isinstance(cfg, dict):  # an already built dataset: nothing to do
        return
    key = WRAPPERS.get(_type_name(cfg).split('.')[-1])
    if key is None:
        yield field, cfg
        return
    inner = cfg.get(key)
    if isinstance(inner, (list, tuple)):
        for i, sub in enumerate(inner):
            yield from _leaf_datasets(sub, f'{field}.{key}[{i}]')
    else:
        yield from _leaf_datasets(inner, f'{field}.{key}')


def _is_remote(path: str) -> bool:
    return '://' in path


def _join(root: str, path: str) -> str:
    """Join as mmengine's BaseDataset does: absolute paths stay."""
    if not root or osp.isabs(path) or _is_remote(path):
        return path
    return osp.join(root, path)


def _expected_paths(ds: dict) -> List[Tuple[str, str, str]]:
    """``(field, path, 'dir'|'file')`` the dataset needs, data_root first."""
    root = ds.get('data_root') or ''
    out = []
    if root:
        out.append(('data_root', root, 'dir'))
    type_name = _type_name(ds).split('.')[-1]
    prefix = ds.get('data_prefix', '')
    if type_name in ('VOC', 'StrictVOC'):
        split = ds.get('split', 'trainval')
        image_set = ds.get('image_set_path') or (
            osp.join('ImageSets', 'Main', f'{split}.txt') if split else '')
        if image_set:
            out.append(('image_set_path', _join(root, image_set), 'file'))
        if not prefix:
            prefix = dict(img_path='JPEGImages', ann_path='Annotations')
    elif ds.get('ann_file'):
        out.append(('ann_file', _join(root, ds['ann_file']), 'file'))
    if isinstance(prefix, str):
        prefix = dict(img_path=prefix)
    for key, value in (prefix or {}).items():
        if value:  # '' means data_root itself, checked above
            out.append((f'data_prefix.{key}', _join(root, value), 'dir'))
    return out


def _missing(ds: dict) -> List[Tuple[str, str]]:
    """Missing ``(field, path)`` pairs; under a missing data_root, only it."""
    missing = []
    for field, path, kind in _expected_paths(ds):
        if _is_remote(path):
            continue
        ok = osp.isdir(path) if kind == 'dir' else osp.isfile(path)
        if not ok:
            missing.append((field, path))
            if field == 'data_root':
                break
    return missing


def check_data_roots(cfg, splits: Sequence[str] = ('train', 'val', 'test')
                     ) -> None:
    """Raise ``FileNotFoundError`` if data named by ``cfg`` is missing.

    Checks, for each ``<split>_dataloader.dataset`` present in ``cfg`` (a
    ``Config`` or dict), and each dataset inside wrappers: ``data_root``
    (a folder), ``ann_file`` (a file, joined to ``data_root`` unless
    absolute), every ``data_prefix`` folder, and for VOC the image-set list
    (``ImageSets/Main/<split>.txt`` unless ``image_set_path`` is given) and
    the default ``JPEGImages`` / ``Annotations`` folders. Remote paths
    (``s3://`` ...) are not checked.

    Args:
        cfg: the full config.
        splits: which dataloaders to check, from ``'train'``, ``'val'``,
            ``'test'``.

    Raises:
        FileNotFoundError: listing, for every missing path, the config
            field, the path, the layout expected for that dataset type,
            and "see README section 'Data preparation'".
    """
    problems = []
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset = loader.get('dataset') if isinstance(loader, dict) else None
        field = f'{split}_dataloader.dataset'
        for field, ds in _leaf_datasets(dataset, field):
            missing = _missing(ds)
            if not missing:
                continue
            type_name = _type_name(ds)
            lines = [f'{field}.{key} = {path} does not exist'
                     for key, path in missing]
            layout = DATA_LAYOUTS.get(type_name.split('.')[-1])
            if layout is None:
                layout = ('    (no layout known for this dataset type; see '
                          'its docstring)')
            problems.append('\n'.join(lines) + f'\n  expected layout for '
                            f'{type_name}:\n{layout}')
    if problems:
        raise FileNotFoundError(
            'Data not found:\n' + '\n'.join(problems) +
            f'\nSet data_root at the top of the dataset config (or '
            f'--cfg-options ...data_root=...); {HINT}.')
