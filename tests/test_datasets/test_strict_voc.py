"""StrictVOC against mmpretrain's VOC on a hand-made VOCdevkit folder."""
import pytest

import marl_mm  # noqa: F401
from marl_mm.datasets import StrictVOC
from mmpretrain.datasets import VOC

CLASSES = VOC.METAINFO['classes']  # the 20 VOC2007 names, aeroplane first


def _xml(objects):
    body = ''.join(
        f'<object><name>{n}</name>' +
        ('' if d is None else f'<difficult>{d}</difficult>') + '</object>'
        for n, d in objects)
    return f'<annotation><filename>x.jpg</filename>{body}</annotation>'


def _voc(root, annotations):
    (root / 'JPEGImages').mkdir(parents=True)
    (root / 'Annotations').mkdir()
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    for img_id, objects in annotations.items():
        (root / 'Annotations' / f'{img_id}.xml').write_text(_xml(objects))
    (root / 'ImageSets' / 'Main' / 'train.txt').write_text(
        '\n'.join(annotations) + '\n')
    return dict(data_root=str(root), split='train')


GOOD = {
    '000001': [('dog', 0), ('person', 0), ('dog', 0)],
    '000002': [('cat', 1)],  # difficult only
    '000003': [('dog', 1), ('dog', 0), ('chair', 1)],  # dog plain, chair diff.
    '000004': [('bird', None)],  # no <difficult>: counts as 0
}


def test_labels_and_difficult(tmp_path):
    ds = StrictVOC(**_voc(tmp_path, GOOD))
    idx = {c: i for i, c in enumerate(CLASSES)}
    got = [(ds.get_data_info(i)['gt_label'],
            ds.get_data_info(i)['gt_label_difficult']) for i in range(4)]
    assert got == [
        ([idx['dog'], idx['person']], []),
        ([], [idx['cat']]),
        ([idx['dog']], [idx['chair']]),
        ([idx['bird']], []),
    ]
    assert ds.get_data_info(0)['img_path'] == str(tmp_path / 'JPEGImages' /
                                                  '000001.jpg')


def test_agrees_with_mmpretrain_voc_where_both_apply(tmp_path):
    ann = {k: v for k, v in GOOD.items() if k in ('000001', '000002')}
    kwargs = _voc(tmp_path, ann)
    ours, theirs = StrictVOC(**kwargs), VOC(**kwargs)
    assert len(ours) == len(theirs) == 2
    for i in range(2):
        a, b = ours.get_data_info(i), theirs.get_data_info(i)
        assert a['img_path'] == b['img_path']
        assert a['gt_label'] == sorted(b['gt_label'])
        assert a['gt_label_difficult'] == sorted(b['gt_label_difficult'])


def test_unknown_class_name_raises_with_file_and_name(tmp_path):
    ann = {'000001': GOOD['000001'], '000005': [('dgo', 0), ('cat', 0)]}
    kwargs = _voc(tmp_path, ann)
    with pytest.raises(ValueError) as e:
        StrictVOC(**kwargs)
    assert '000005.xml' in str(e.value) and "'dgo'" in str(e.value)
    # 'ignore' is mmpretrain's behaviour: the object is skipped
    ds = StrictVOC(**kwargs, unknown_classes='ignore')
    assert ds.get_data_info(1)['gt_label'] == [CLASSES.index('cat')]
    assert VOC(**kwargs).get_data_info(1)['gt_label'] == \
        [CLASSES.index('cat')]


@pytest.mark.parametrize('xml, message', [
    ('<annotation><object><difficult>0</difficult></object></annotation>',
     'without <name>'),
    ('<annotation><object><name>cat</name><difficult>2</difficult>'
     '</object></annotation>', "'2', expected 0 or 1"),
    ('<annotation><object>', 'not valid xml'),
])
def test_malformed_xml(tmp_path, xml, message):
    kwargs = _voc(tmp_path, {'000001': []})
    (tmp_path / 'Annotations' / '000001.xml').write_text(xml)
    with pytest.raises(ValueError, match=message):
        StrictVOC(**kwargs)


def test_missing_xml_names_image_set(tmp_path):
    kwargs = _voc(tmp_path, {'000001': [('cat', 0)]})
    (tmp_path / 'Annotations' / '000001.xml').unlink()
    with pytest.raises(FileNotFoundError, match='train.txt'):
        StrictVOC(**kwargs)
    with pytest.raises(ValueError, match='unknown_classes must be'):
        StrictVOC(**kwargs, unknown_classes='skip')
