"""tools/visualization/vis_glimpses.py: one PNG per input image (files and
folders), of the original image's size for RARL and a panel grid for RARNN,
with the glimpse drawing over the image."""
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tests_conftest import assert_drawing_of, load_tool

from marl_mm.visualization.glimpse_visualizer import STEP_COLOURS

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / 'configs'
CLASSES = ('circle', 'square', 'triangle', 'cross', 'star', 'diamond',
           'ring', 'hexagon')
SIZE = 64  # test input side (the quick-start configs use 128)


tool = load_tool('tools/visualization/vis_glimpses.py')


def tiny_setup(name: str, root: Path, seed: int):
    """A SIZE px shapes config in ``root`` and a seeded random checkpoint."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    for step in cfg.test_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            step.scale = (SIZE, SIZE)
    if cfg.model.head.type == 'LSTMGlimpseHead':
        cfg.model.head.anchor_sizes = (12, 24, 48)
    if 'rhn' in cfg.model.get('neck', {}):
        cfg.model.neck.rhn.spatial_size = SIZE // 16
    config = root / name
    cfg.dump(str(config))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    ckpt = root / f'{Path(name).stem}.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': list(CLASSES)}}}, ckpt)
    return config, ckpt


def write_images(folder: Path) -> list:
    folder.mkdir()
    rng = np.random.RandomState(7)
    paths = []
    for name, hw in (('one.png', (80, 100)), ('two.png', (70, 50))):
        img = (rng.rand(*hw, 3) * 80 + 80).astype(np.uint8)
        mmcv.imwrite(img, str(folder / name))
        paths.append(folder / name)
    return paths


def test_rarl_pngs_for_files_and_folders(tmp_path):
    config, ckpt = tiny_setup('rarl_resnet18_shapes.py', tmp_path, seed=8)
    paths = write_images(tmp_path / 'imgs')
    out_dir = tmp_path / 'out'
    written = tool.main([str(config), str(ckpt), str(paths[0]),
                         str(tmp_path / 'imgs'), '--out-dir', str(out_dir),
                         '--topk', '2'])
    # imgs/one.png given alone and again in the folder: two drawings, no
    # overwrite (the stem gets the input's index where stems repeat)
    assert [Path(p).name for p in written] == ['one_0.png', 'one_1.png',
                                               'two.png']
    assert sorted(p.name for p in out_dir.iterdir()) == [
        'one_0.png', 'one_1.png', 'two.png']
    for out, path in zip(written, [paths[0], *paths]):
        original = mmcv.imread(str(path), channel_order='rgb')
        drawn = mmcv.imread(out, channel_order='rgb').astype(int)
        assert_drawing_of(drawn.shape[:2], original.shape[:2])
        # every step of the policy drawn in its own colour
        for colour in STEP_COLOURS[:3]:
            assert (np.abs(drawn - colour).max(-1) < 4).sum() > 20


def test_rarnn_grid(tmp_path):
    if not (CONFIG_DIR / 'rarnn_resnet18_shapes.py').is_file():
        pytest.skip('configs/rarnn_resnet18_shapes.py not written yet')
    config, ckpt = tiny_setup('rarnn_resnet18_shapes.py', tmp_path, seed=9)
    paths = write_images(tmp_path / 'imgs')
    out_dir = tmp_path / 'out'
    tool.main([str(config), str(ckpt), str(paths[0]), '--out-dir',
               str(out_dir), '--topk', '1'])
    num = Config.fromfile(str(config)).model.neck.rhn.num_glimpses
    cols = min(num, 5)
    drawn = mmcv.imread(str(out_dir / 'one.png'))
    # one panel per emitted glimpse (at most cols per row), each the image
    # enlarged x4 (80 x 100 -> 320 x 400)
    assert 400 <= drawn.shape[1] < cols * 400 + cols * 20
    assert drawn.shape[0] > 320
