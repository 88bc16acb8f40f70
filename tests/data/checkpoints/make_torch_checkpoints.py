#!/usr/bin/env python3
"""Writes the torch.save files the C++ checkpoint reader is tested on, without torch.

Python torch is not available here, so this script re-implements what torch 1.13's torch.save does
with the standard library alone: it pickles with CPython's own pickle.Pickler (which is what
torch.save uses), with stand-in classes that reduce exactly like torch's Tensor, Parameter and
TypedStorage (same GLOBALs: torch._utils._rebuild_tensor_v2 / _rebuild_parameter, torch.XStorage,
collections.OrderedDict; same persistent ids), and lays the result out as torch does:

  legacy (torch.save(..., _use_new_zipfile_serialization=False), torch/serialization.py
  _legacy_save): pickles of MAGIC_NUMBER, PROTOCOL_VERSION (1001) and the sys_info dict, the object
  with persistent ids ('storage', torch.XStorage, key, 'cpu', numel, None), the sorted storage keys,
  then each storage as an int64 element count and its raw little-endian bytes.

  zip (the default, torch/serialization.py _save + caffe2/serialize/inline_container.cc
  PyTorchStreamWriter on miniz): `<archive>/data.pkl` (persistent ids ('storage', torch.XStorage,
  key, 'cpu', numel), keys '0', '1', ... in order of first use), `<archive>/data/<key>` for the
  sorted keys, then `<archive>/version` = "3\\n"; every member stored, its data 64-byte aligned by an
  'FB' extra field padded with 'Z', general-purpose flags 0x0808 (data descriptor, UTF-8), zero
  sizes/CRC/time in the local header and a 16-byte data descriptor after the data, a central
  directory, a zip64 end record and locator, and the end record. `<archive>` is the file name
  without its extension ("archive" when saving to a file object).

Faithfulness is checked on every run (the script fails otherwise):
  - the legacy writer reproduces, byte for byte, ../models/lingcloud-v0-tiny-llama/
    lingcloud_checkpoint.pth (made by real torch), from the objects read back out of it;
  - the zip writer reproduces, byte for byte, libtorch_pickle_save.pt from its members.
    libtorch_pickle_save.pt was written by libtorch 1.13.1 (C++): torch::pickle_save of the
    c10::Dict<std::string, Tensor> {"a": base.view({3, 4}), "b": base.view({3, 4}).t(),
    "c": ones({2}, half)} with base = arange(12, float); the C++ test
    TorchCheckpointTest.LibtorchPickleSave regenerates it and compares. (Its data.pkl comes from
    libtorch's own pickler, not from this script.)

Files written (values are given by the formulas in make_state_dict() etc., which the C++ tests
recompute):
  zip_state_dict.pt      torch.save(model.state_dict(), "zip_state_dict.pt"): zip, protocol 2; an
                         OrderedDict with `_metadata` (a BUILD opcode); float32, float16, bfloat16,
                         float64, int64, int32, uint8 and bool tensors; views sharing one float32
                         storage (a transpose, a row at an offset, a strided slice); a 0-dim
                         tensor; an empty tensor.
  zip_protocol4.pt       the same dict saved to a file object with pickle_protocol=4 (archive name
                         "archive"; FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL opcodes).
  legacy_ddp.pth         LingCloud v0.1-style training checkpoint in the legacy format:
                         {'net': OrderedDict('module.' + name -> Parameter float32/bfloat16),
                          'optimizer': AdamW state_dict, 'epoch': 1} (a DDP model's state).
  hf_single/pytorch_model.bin
                         transformers 4.29 save_pretrained(safe_serialization=False) of a small
                         model: torch.save of a plain dict (zip, archive "pytorch_model"), with
                         lm_head.weight sharing the storage of model.embed_tokens.weight (tied).
  hf_sharded/pytorch_model-0000{1,2}-of-00002.bin + pytorch_model.bin.index.json
                         the same model sharded by save_pretrained(max_shard_size=...): two
                         torch.save'd plain dicts and the index ({"metadata": {"total_size"},
                         "weight_map"}, json.dumps(indent=2, sort_keys=True)).
  bad_*.pt / bad_*.pth   damaged files, each described where it is made (bad_files()).

Run from anywhere: python3 tests/data/checkpoints/make_torch_checkpoints.py [--check]
(--check compares with the committed files instead of writing them).
"""

import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE_PTH = os.path.join(HERE, "..", "models", "lingcloud-v0-tiny-llama",
                           "lingcloud_checkpoint.pth")
LIBTORCH_ZIP = os.path.join(HERE, "libtorch_pickle_save.pt")

# --- stand-ins for torch's classes: they pickle as torch's own do --------------------------------

torch_mod = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
torch_mod._utils = torch_utils
sys.modules.setdefault("torch", torch_mod)
sys.modules.setdefault("torch._utils", torch_utils)
if sys.modules["torch"] is not torch_mod:
    sys.exit("run this without torch imported: it stands in for torch's classes")


def _torch_function(module, name):
    def fn(*args):
        raise RuntimeError("stand-in for %s.%s; never called" % (module.__name__, name))
    fn.__module__ = module.__name__
    fn.__name__ = fn.__qualname__ = name
    setattr(module, name, fn)
    return fn


_rebuild_tensor_v2 = _torch_function(torch_utils, "_rebuild_tensor_v2")
_rebuild_parameter = _torch_function(torch_utils, "_rebuild_parameter")

# name -> (struct format of one element or None for bfloat16, element size)
STORAGE_TYPES = {
    "HalfStorage": ("e", 2), "BFloat16Storage": (None, 2), "FloatStorage": ("f", 4),
    "DoubleStorage": ("d", 8), "LongStorage": ("q", 8), "IntStorage": ("i", 4),
    "ShortStorage": ("h", 2), "CharStorage": ("b", 1), "ByteStorage": ("B", 1),
    "BoolStorage": ("?", 1),
}
for _name in STORAGE_TYPES:
    setattr(torch_mod, _name, type(_name, (), {"__module__": "torch"}))


def pack(storage_type, values):
    """Little-endian bytes of `values` in the storage's dtype (bfloat16: float32's top half)."""
    fmt, _ = STORAGE_TYPES[storage_type]
    if fmt is None:
        out = b""
        for v in values:
            f32 = struct.pack("<f", v)
            if f32[:2] != b"\0\0":
                raise ValueError("%r is not exact in bfloat16" % v)
            out += f32[2:]
        return out
    return struct.pack("<%d%s" % (len(values), fmt), *values)


class Storage:
    """A TypedStorage: raw bytes of one dtype."""

    def __init__(self, storage_type, data):
        self.type_name = storage_type
        self.cls = getattr(torch_mod, storage_type)
        self.data = data

    @property
    def numel(self):
        return len(self.data) // STORAGE_TYPES[self.type_name][1]


class Tensor:
    """Reduces like torch.Tensor._reduce_ex_internal for a CPU tensor (no metadata)."""

    def __init__(self, storage, offset, size, stride, requires_grad=False):
        self.storage, self.offset = storage, offset
        self.size, self.stride, self.requires_grad = tuple(size), tuple(stride), requires_grad

    def __reduce_ex__(self, proto):
        # backward hooks are never saved: torch passes a fresh empty OrderedDict.
        return (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.size), self.stride,
                                     self.requires_grad, collections.OrderedDict()))


class Parameter:
    """Reduces like torch.nn.Parameter.__reduce_ex__ (no extra state)."""

    def __init__(self, data, requires_grad=True):
        self.data, self.requires_grad = data, requires_grad

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.data, self.requires_grad, collections.OrderedDict()))


def contiguous(storage_type, values, shape, requires_grad=False):
    strides, step = [], 1
    for d in reversed(shape):
        strides.insert(0, step)
        step *= d
    return Tensor(Storage(storage_type, pack(storage_type, values)), 0, shape, strides,
                  requires_grad)


# --- torch.save, both layouts ----------------------------------------------------------------------

MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
PROTOCOL_VERSION = 1001


def _location_tag(storage):
    return "cpu"  # torch's _cpu_tag: one constant string, so pickles reuse it through the memo


def save_legacy(obj, f, protocol=2):
    """torch.serialization._legacy_save. Storage keys: torch uses str(storage._cdata), a memory
    address; here the storage's number in order of first use, which is what the fixture has."""
    serialized, numbers = {}, {}

    def persistent_id(o):
        if isinstance(o, Storage):
            storage_key = str(numbers.setdefault(id(o), len(numbers)))  # a new str each time
            serialized.setdefault(storage_key, o)
            return ("storage", o.cls, storage_key, _location_tag(o), o.numel, None)
        return None

    sys_info = dict(protocol_version=PROTOCOL_VERSION, little_endian=sys.byteorder == "little",
                    type_sizes=dict(short=2, int=4, long=4))
    pickle.dump(MAGIC_NUMBER, f, protocol=protocol)
    pickle.dump(PROTOCOL_VERSION, f, protocol=protocol)
    pickle.dump(sys_info, f, protocol=protocol)
    pickler = pickle.Pickler(f, protocol=protocol)
    pickler.persistent_id = persistent_id
    pickler.dump(obj)
    keys = sorted(serialized.keys())
    pickle.dump(keys, f, protocol=protocol)
    for key in keys:
        storage = serialized[key]
        f.write(struct.pack("<q", storage.numel))
        f.write(storage.data)


def zip_pickle(obj, protocol=2):
    """torch.serialization._save: data.pkl and the storages, keys '0', '1', ... by first use."""
    serialized, id_map = {}, {}

    def persistent_id(o):
        if isinstance(o, Storage):
            storage_key = id_map.setdefault(id(o), str(len(id_map)))
            serialized[storage_key] = o
            return ("storage", o.cls, storage_key, _location_tag(o), o.numel)
        return None

    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=protocol)
    pickler.persistent_id = persistent_id
    pickler.dump(obj)
    records = [("data.pkl", buf.getvalue())]
    records += [("data/" + k, serialized[k].data) for k in sorted(serialized)]
    records.append(("version", b"3\n"))  # PyTorchStreamWriter::writeEndOfFile
    return records


def write_torch_zip(archive, records):
    """PyTorchStreamWriter + miniz's mz_zip_writer_add_mem_ex_v2 / finalize, for records of any
    size below 4 GiB. Returns the bytes."""
    out, central = bytearray(), []
    for name, data in records:
        full = ("%s/%s" % (archive, name)).encode()
        start = len(out) + 30 + len(full) + 4  # detail::getPadding: where the data would start
        pad = (64 - start % 64) % 64
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(data)
        central.append((full, crc, len(data), len(out)))
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 0, 0x0808, 0, 0, 0, 0, 0, 0, len(full),
                           len(extra))
        out += full + extra + data
        out += struct.pack("<IIII", 0x08074b50, crc, len(data), len(data))
    dir_offset = len(out)
    for full, crc, size, offset in central:
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 0, 0, 0x0808, 0, 0, 0, crc, size,
                           size, len(full), 0, 0, 0, 0, 0, offset) + full
    dir_size, n = len(out) - dir_offset, len(central)
    zip64_end = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 0x031e, 0x2d, 0, 0, n, n, dir_size,
                       dir_offset)
    out += struct.pack("<IIQI", 0x07064b50, 0, zip64_end, 1)
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, n, n, dir_size, dir_offset, 0)
    return bytes(out)


def save_zip(obj, archive, protocol=2):
    return write_torch_zip(archive, zip_pickle(obj, protocol))


def save_legacy_bytes(obj):
    f = io.BytesIO()
    save_legacy(obj, f)
    return f.getvalue()


# --- faithfulness checks ---------------------------------------------------------------------------

def read_legacy(data):
    """torch.load's _legacy_load, building the stand-in objects (so they can be saved again)."""
    f = io.BytesIO(data)
    assert pickle.load(f) == MAGIC_NUMBER
    assert pickle.load(f) == PROTOCOL_VERSION
    pickle.load(f)
    storages = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return lambda s, o, size, stride, rg, hooks: Tensor(s, o, size, stride, rg)
            if module == "torch._utils" and name == "_rebuild_parameter":
                return lambda t, rg, hooks: Parameter(t, rg)
            if module == "torch" and name in STORAGE_TYPES:
                return getattr(torch_mod, name)
            raise pickle.UnpicklingError("unexpected global %s.%s" % (module, name))

        def persistent_load(self, pid):
            _, cls, key, _, numel, view = pid
            assert view is None
            if key not in storages:
                storages[key] = Storage(cls.__name__, b"")
                storages[key].declared = numel
            return storages[key]

    obj = Unpickler(f).load()
    for key in pickle.load(f):
        (numel,) = struct.unpack("<q", f.read(8))
        s = storages[key]
        assert numel == s.declared
        s.data = f.read(numel * STORAGE_TYPES[s.type_name][1])
    assert f.read() == b""
    return obj


def check_faithful():
    real = open(FIXTURE_PTH, "rb").read()
    again = save_legacy_bytes(read_legacy(real))
    if again != real:
        first = next(i for i in range(min(len(real), len(again))) if real[i] != again[i])
        sys.exit("legacy writer differs from the real torch file at byte %d" % first)
    real_zip = open(LIBTORCH_ZIP, "rb").read()
    z = zipfile.ZipFile(io.BytesIO(real_zip))
    archive = z.namelist()[0].split("/")[0]
    records = [(n[len(archive) + 1:], z.read(n)) for n in z.namelist()]
    if write_torch_zip(archive, records) != real_zip:
        sys.exit("zip writer differs from libtorch's output")


# --- the files -------------------------------------------------------------------------------------

def make_state_dict():
    """model.state_dict() of a small model: an OrderedDict whose _metadata pickles as BUILD."""
    base = Storage("FloatStorage", pack("FloatStorage", [0.5 * i - 3 for i in range(24)]))
    sd = collections.OrderedDict()
    sd["base.weight"] = Tensor(base, 0, (4, 6), (6, 1))      # values 0.5 * i - 3
    sd["base.weight_t"] = Tensor(base, 0, (6, 4), (1, 6))    # base.weight.t()
    sd["base.row2"] = Tensor(base, 12, (6,), (1,))           # base.weight[2]
    sd["base.cols"] = Tensor(base, 6, (3, 3), (6, 2))        # base.weight[1:, ::2]
    sd["half.weight"] = contiguous("HalfStorage", [0.25 * (i - 2.5) for i in range(6)], (3, 2))
    sd["bf16.weight"] = contiguous("BFloat16Storage", [0.5 * i - 1 for i in range(6)], (2, 3))
    sd["scale"] = contiguous("FloatStorage", [2.5], ())
    sd["empty"] = contiguous("FloatStorage", [], (0, 3))
    sd["steps"] = contiguous("LongStorage", [1, -2, 3000000000], (3,))
    sd["ids"] = contiguous("IntStorage", [7, -8], (2,))
    sd["pixels"] = contiguous("ByteStorage", [0, 128, 255], (3,))
    sd["mask"] = contiguous("BoolStorage", [True, False, True, True], (4,))
    sd["f64"] = contiguous("DoubleStorage", [1 / 3, -2.0], (2,))
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("base", {"version": 1})])
    return sd


def make_ddp_checkpoint():
    """LingCloud v0.1's train.py: {'net': DDP model's parameters, 'optimizer', 'epoch'}.
    module.proj.weight = 0.125 * i - 1 (float32 [3, 4]), module.proj.bias = [0.5, -0.5, 1.5]
    (requires_grad False), module.emb = 0.5 * i - 2 (bfloat16 [2, 4])."""
    net = collections.OrderedDict()
    net["module.proj.weight"] = Parameter(
        contiguous("FloatStorage", [0.125 * i - 1 for i in range(12)], (3, 4)))
    net["module.proj.bias"] = Parameter(contiguous("FloatStorage", [0.5, -0.5, 1.5], (3,)),
                                        requires_grad=False)
    net["module.emb"] = Parameter(
        contiguous("BFloat16Storage", [0.5 * i - 2 for i in range(8)], (2, 4)))
    state = {}
    for index, p in enumerate([net["module.proj.weight"], net["module.emb"]]):
        n = 1
        for d in p.data.size:
            n *= d
        state[index] = {
            "step": contiguous("FloatStorage", [1.0], ()),
            "exp_avg": contiguous("FloatStorage", [0.01] * n, p.data.size),
            "exp_avg_sq": contiguous("FloatStorage", [1e-4] * n, p.data.size),
        }
    optimizer = {"state": state, "param_groups": [{
        "lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False,
        "foreach": None, "maximize": False, "capturable": False, "params": [0, 1]}]}
    return {"net": net, "optimizer": optimizer, "epoch": 1}


def make_hf_model():
    """A transformers model's state_dict(), in order. Values: embed = 0.25 * i - 2 (float32 [5, 4]),
    lm_head.weight is the same tensor (tied), norm = 1 + 0.5 * i (float32 [4]), up_proj =
    0.5 * i - 3 (bfloat16 [3, 4]), down_proj = (i % 7) - 3 (float16 [4, 3])."""
    embed = contiguous("FloatStorage", [0.25 * i - 2 for i in range(20)], (5, 4))
    sd = collections.OrderedDict()
    sd["model.embed_tokens.weight"] = embed
    sd["model.norm.weight"] = contiguous("FloatStorage", [1 + 0.5 * i for i in range(4)], (4,))
    sd["model.layers.0.mlp.up_proj.weight"] = contiguous(
        "BFloat16Storage", [0.5 * i - 3 for i in range(12)], (3, 4))
    sd["model.layers.0.mlp.down_proj.weight"] = contiguous(
        "HalfStorage", [(i % 7) - 3 for i in range(12)], (4, 3))
    sd["lm_head.weight"] = Tensor(embed.storage, 0, (5, 4), (4, 1))
    return sd


def hf_files():
    sd = make_hf_model()
    files = {"hf_single/pytorch_model.bin": save_zip(dict(sd), "pytorch_model")}
    shards = [["model.embed_tokens.weight", "model.norm.weight"],
              ["model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
               "lm_head.weight"]]
    weight_map, total = {}, 0
    for i, keys in enumerate(shards):
        name = "pytorch_model-%05d-of-%05d.bin" % (i + 1, len(shards))
        files["hf_sharded/" + name] = save_zip({k: sd[k] for k in keys}, name[:-4])
        for k in keys:
            t = sd[k]
            n = STORAGE_TYPES[t.storage.type_name][1]
            for d in t.size:
                n *= d
            weight_map[k] = name
            total += n
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    files["hf_sharded/pytorch_model.bin.index.json"] = (
        json.dumps(index, indent=2, sort_keys=True) + "\n").encode()
    return files


def _patch(data, offset, new):
    return data[:offset] + new + data[offset + len(new):]


def bad_files():
    small = {"w": contiguous("FloatStorage", [1.0, 2.0, 3.0, 4.0], (4,))}
    good_zip = save_zip(small, "bad")
    files = {}

    class System:  # pickles as GLOBAL 'posix system' (os.system); never called by the reader
        def __reduce__(self):
            return (os.system, ("echo unreachable",))
    files["bad_global.pt"] = save_zip({"w": small["w"], "evil": System()}, "bad_global")

    # Legacy file whose tensor claims 10 elements of an 8-element storage.
    files["bad_storage_short.pth"] = save_legacy_bytes(
        {"w": Tensor(Storage("FloatStorage", pack("FloatStorage", [0.0] * 8)), 0, (10,), (1,))})

    # A zip with no data.pkl (only a storage and the version record).
    files["bad_missing_data_pkl.pt"] = write_torch_zip(
        "bad", [("data/0", pack("FloatStorage", [1.0])), ("version", b"3\n")])

    # The local header of bad/data/0 (the second member) lost its signature.
    offset = good_zip.index(b"PK\x03\x04bad/data/0"[:4], 1)
    files["bad_local_header.pt"] = _patch(good_zip, offset, b"XX")

    # The central directory says bad/data/0 holds 12 bytes; its data descriptor says 16.
    entry = good_zip.index(b"bad/data/0", good_zip.index(b"PK\x01\x02")) - 46
    files["bad_member_size.pt"] = _patch(good_zip, entry + 20, struct.pack("<II", 12, 12))

    # A consistent zip whose storage member is shorter than the pickle declares (4 floats).
    records = zip_pickle(small)
    records[1] = ("data/0", pack("FloatStorage", [1.0, 2.0]))
    files["bad_storage_bytes.pt"] = write_torch_zip("bad", records)

    # One flipped bit in the tensor data: the CRC-32 no longer matches.
    data_at = good_zip.index(pack("FloatStorage", [1.0, 2.0, 3.0, 4.0]))
    files["bad_crc.pt"] = _patch(good_zip, data_at, bytes([good_zip[data_at] ^ 0x01]))
    return files


def all_files():
    sd = make_state_dict()
    files = {
        "zip_state_dict.pt": save_zip(sd, "zip_state_dict"),
        "zip_protocol4.pt": save_zip(sd, "archive", protocol=4),
        "legacy_ddp.pth": save_legacy_bytes(make_ddp_checkpoint()),
    }
    files.update(hf_files())
    files.update(bad_files())
    for name, data in files.items():  # every zip must also be a valid zip to Python's zipfile
        if data.startswith(b"PK") and name not in ("bad_local_header.pt", "bad_member_size.pt"):
            assert zipfile.ZipFile(io.BytesIO(data)).testzip() in (None, "bad/data/0"), name
    return files


def main():
    check_faithful()
    check_only = "--check" in sys.argv[1:]
    stale = []
    for name, data in sorted(all_files().items()):
        path = os.path.join(HERE, name)
        if check_only:
            if not os.path.exists(path) or open(path, "rb").read() != data:
                stale.append(name)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    if stale:
        sys.exit("out of date: " + ", ".join(stale))


if __name__ == "__main__":
    main()
