"""Prediction pickles load without running code: the types DumpResults
writes load, anything else is refused before it is called."""
import io
import os
import pickle

import numpy as np
import pytest
import torch

from marl_mm.utils.restricted_unpickler import (UnsafePickleError,
                                                load_pickle_safe)


class _Payload:
    """A pickle whose loading would create ``marker`` (os.system)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def _dump(obj, path, protocol=2):
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=protocol)
    return str(path)


@pytest.mark.parametrize('protocol', [2, pickle.HIGHEST_PROTOCOL])
def test_loads_what_dump_results_writes(tmp_path, protocol):
    obj = [dict(
        sample_idx=3, img_path='a/b.jpg', ori_shape=(128, 96),
        scale_factor=(1.0, 0.75), flip=False, num_classes=4, tag=None,
        pred_score=torch.tensor([0.1, 0.7, 0.2, 0.0]),
        gt_label=torch.tensor([1, 3]), gt_score=torch.tensor([0., 1, 0, 1]),
        half=torch.ones(2, 3, dtype=torch.float16)[:, 1:],  # a view
        arr=np.arange(6, dtype=np.float32).reshape(2, 3),
        scalar=np.float64(0.5), ints=np.array([1, 2], dtype=np.int64),
        raw=b'\x00\xff', names={'x', 'y'}, z=1 + 2j)]
    loaded = load_pickle_safe(_dump(obj, tmp_path / 'p.pkl', protocol))
    assert loaded[0].keys() == obj[0].keys()
    for key, value in obj[0].items():
        got = loaded[0][key]
        if isinstance(value, torch.Tensor):
            assert got.dtype == value.dtype and torch.equal(got, value), key
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(got, value)
            assert got.dtype == value.dtype
        else:
            assert got == value and type(got) is type(value), key


def test_refuses_a_reduce_payload_without_running_it(tmp_path):
    marker = tmp_path / 'pwned'
    path = _dump([dict(pred_score=torch.zeros(2)), _Payload(marker)],
                 tmp_path / 'evil.pkl')
    with pytest.raises(UnsafePickleError) as info:
        load_pickle_safe(path)
    assert not marker.exists()
    msg = str(info.value)
    assert 'evil.pkl' in msg and '.system' in msg
    assert 'Nothing in it was executed' in msg
    # the plain loader would have run it (what the test guards against)
    with open(path, 'rb') as f:
        pickle.load(f)
    assert marker.exists()


@pytest.mark.parametrize('name', ['builtins.eval', 'builtins.getattr',
                                  'torch.load', 'numpy.load'])
def test_refuses_other_globals(tmp_path, name):
    module, attr = name.rsplit('.', 1)
    data = b'\x80\x02c' + f'{module}\n{attr}\n'.encode() + b'q\x00.'
    path = tmp_path / 'g.pkl'
    path.write_bytes(data)
    with pytest.raises(UnsafePickleError, match=name.replace('.', r'\.')):
        load_pickle_safe(str(path))


def test_allowed_globals_cannot_be_turned(tmp_path):
    # codecs.encode only as pickle uses it (latin1)
    data = (b'\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00aX\x05\x00\x00'
            b'\x00rot13\x86R.')
    path = tmp_path / 'c.pkl'
    path.write_bytes(data)
    with pytest.raises(UnsafePickleError, match='rot13'):
        load_pickle_safe(str(path))
    # a tensor blob carrying code: read with weights_only=True, refused
    marker = tmp_path / 'pwned'
    buf = io.BytesIO()
    torch.save(_Payload(marker), buf, _use_new_zipfile_serialization=False)
    blob = buf.getvalue()
    data = (b'\x80\x02ctorch.storage\n_load_from_bytes\nq\x00B'  # BINBYTES
            + len(blob).to_bytes(4, 'little') + blob + b'\x85R.')
    path.write_bytes(data)
    with pytest.raises(UnsafePickleError, match=r'c\.pkl.*Weights only'):
        load_pickle_safe(str(path))
    assert not marker.exists()
