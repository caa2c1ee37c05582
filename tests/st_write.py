"""st_write.py - the safetensors writer the reference generators share (gen_nn_ref.py,
gen_nn_conv_ref.py, gen_adamw_ref.py): an 8-byte little-endian header length, the JSON
header (compact, padded with spaces to a multiple of 8), then each tensor's raw
little-endian bytes back to back in sorted name order.  Written from the format's
public description (huggingface/safetensors README).  read_safetensors reads F32 files
back (gen_saliency_ref.py, gen_clip_bf16_ref.py)."""
import json
import struct

import numpy as np

_DTYPES = {np.dtype(np.float32): ("F32", "<f4"), np.dtype(np.float64): ("F64", "<f8"),
           np.dtype(np.int32): ("I32", "<i4"), np.dtype(np.int64): ("I64", "<i8")}


def _array(t, as_f32):
    if hasattr(t, "detach"):  # a torch tensor
        t = t.detach().cpu().contiguous().numpy()
    a = np.asarray(t)  # (not ascontiguousarray: it turns a 0-d scalar into shape [1])
    return a.astype(np.float32) if as_f32 else a


def write_safetensors(path, tensors, metadata=None, as_f32=False):
    """tensors: name -> numpy array or torch tensor; as_f32 stores everything as F32;
    metadata: name -> value (stored as strings under __metadata__)."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        a = _array(tensors[name], as_f32)
        if a.dtype not in _DTYPES:
            raise ValueError("%s: unsupported dtype %s" % (name, a.dtype))
        dt, le = _DTYPES[a.dtype]
        raw = a.astype(le).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """name -> float32 numpy array (a copy), and the metadata dict, of an F32 safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    meta = head.pop("__metadata__", {})
    out = {}
    for k, v in head.items():
        assert v["dtype"] == "F32", k
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy()
    return out, meta
