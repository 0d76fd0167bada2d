"""tools/misc/generate_proposals.py: the offline stand-in for EdgeBoxes
(boxes inside the image, NMS at 0.7 applied, at most the asked number, the
best box on the drawn object) and its json output."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
gp = load_tool('tools/misc/generate_proposals.py')

OBJECT = (90, 30, 140, 70)  # x1, y1, x2, y2 of the bright rectangle


def _image():
    rng = np.random.default_rng(0)
    img = rng.integers(30, 50, (120, 160, 3)).astype(np.uint8)
    x1, y1, x2, y2 = OBJECT
    img[y1:y2, x1:x2] = 220
    return img


def _iou(a, b):
    """IoU of two boxes, written out."""
    w = max(0., min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0., min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_edge_density_proposals_inside_suppressed_and_on_the_object():
    boxes = gp.propose(_image(), method='edge_density', iou=0.7,
                       max_proposals=5)
    assert 1 <= len(boxes) <= 5
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= 160).all() and (boxes[:, 3] <= 120).all()
    assert (boxes[:, 2] > boxes[:, 0]).all()
    assert (boxes[:, 3] > boxes[:, 1]).all()
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert _iou(boxes[i], boxes[j]) <= 0.7 + 1e-6
    # the best box sits on the rectangle (the drawn contour)
    assert _iou(boxes[0], OBJECT) > 0.5, boxes[0]
    # deterministic
    np.testing.assert_array_equal(
        boxes, gp.propose(_image(), method='edge_density', max_proposals=5))


def test_stricter_nms_keeps_fewer_overlaps():
    loose = gp.propose(_image(), method='edge_density', iou=0.9,
                       max_proposals=1000)
    strict = gp.propose(_image(), method='edge_density', iou=0.3,
                        max_proposals=1000)
    assert len(strict) < len(loose)
    for i in range(min(len(strict), 20)):
        for j in range(i + 1, min(len(strict), 20)):
            assert _iou(strict[i], strict[j]) <= 0.3 + 1e-6


def test_tool_writes_json_per_image_id(tmp_path):
    (tmp_path / 'imgs').mkdir()
    Image.fromarray(_image()).save(tmp_path / 'imgs' / '000005.png')
    Image.fromarray(_image()[:, ::-1].copy()).save(
        tmp_path / 'imgs' / '000007.png')
    out = tmp_path / 'p.json'
    gp.main([str(tmp_path / 'imgs'), str(out), '--method', 'edge_density',
             '--max-proposals', '5'])
    table = json.loads(out.read_text())
    assert sorted(table) == ['000005', '000007']
    assert all(1 <= len(v) <= 5 and all(len(b) == 4 for b in v)
               for v in table.values())
    # original-image pixels: a top box on each (mirrored) rectangle
    x1, y1, x2, y2 = OBJECT
    assert _iou(table['000005'][0], OBJECT) > 0.5
    assert max(_iou(b, (160 - x2, y1, 160 - x1, y2))
               for b in table['000007']) > 0.5


def test_bad_input():
    with pytest.raises(ValueError, match='method'):
        gp.propose(_image(), method='edgeboxes')
    with pytest.raises(ValueError, match='uint8'):
        gp.propose(_image().astype(np.float32))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        gp.generate(Path('/nonexistent/images'))
