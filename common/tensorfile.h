/* tensorfile.h - read named tensors from safetensors files and PyTorch zip
 * checkpoints, without Python and without running anything the file says.
 *
 * tf_open() memory-maps the file and recognises it by its first bytes:
 *   safetensors  8-byte little-endian header length N, then N bytes of JSON
 *                ({"name": {"dtype", "shape", "data_offsets": [begin, end]}},
 *                optional "__metadata__" of string values), then the data.
 *   PyTorch zip  "PK\3\4": what torch.save() writes since torch 1.6, and what
 *                torch.jit.save() writes (TorchScript).  The tensors are
 *                described by "<prefix>/data.pkl", a pickle, and their bytes
 *                are the entries "<prefix>/data/<key>".
 * Then tf_count()/tf_info()/tf_find() list the tensors (name, dtype, shape)
 * and tf_read_f32() converts one to float32 into a buffer the caller owns
 * (F32, F16, BF16 and F64 can be read; integer tensors are listed but refused
 * by name).  tf_f32_view() gives a zero-copy pointer into the mapping for a
 * contiguous, aligned F32 safetensors tensor.
 *
 * The pickle is run by a small VM that only BUILDS DATA: the opcodes a state
 * dict uses (protocols 2-4: dicts, lists, tuples, strings, ints, floats, memo,
 * persistent ids, REDUCE/NEWOBJ/BUILD) and an allow-list of globals --
 * collections.OrderedDict, torch._utils._rebuild_tensor_v2 /
 * _rebuild_parameter(_with_state), torch._tensor._rebuild_from_type_v2,
 * torch.<Type>Storage, torch.device, torch.jit._pickle.* list builders, and
 * TorchScript module classes "__torch__.*", which become inert records of
 * their attributes.  Any other global (os.system, builtins.eval, ...) is
 * refused with a message; nothing is ever called.  A state dict's keys become
 * the tensor names; nested dicts and TorchScript modules are flattened with
 * dots ("visual.transformer.resblocks.0.attn.in_proj_weight"), so OpenAI's
 * TorchScript CLIP .pt files list their weights under their state_dict names.
 * Strided (non-contiguous) torch tensors are gathered when read.
 *
 * What torch.jit.save writes (checked with torch 1.13): the same zip layout as
 * torch.save -- "<name>/data.pkl", storages "<name>/data/<key>" with the same
 * ('storage', torch.HalfStorage, key, 'cpu', numel) persistent ids -- plus
 * "<name>/code/" (TorchScript source and .debug_pkl) and "<name>/constants.pkl"
 * (tensor constants of the code; ignored).  Its data.pkl does not hold a dict
 * but the module tree: GLOBAL '__torch__.<module> <Class>', EMPTY_TUPLE,
 * NEWOBJ, then BUILD with a dict of attributes (parameters, buffers, plain
 * tensor attributes such as OpenAI's attn_mask, submodules, ints, floats).
 * So it is read without running any of the code; tf_format() says
 * "torchscript".
 *
 * Every size, offset, shape and stride is checked (overflow-safe) against the
 * file before anything is read: a corrupt, truncated or hostile file gives
 * EXIT_MODEL with a message naming the file and the tensor, never a crash.
 * Not supported (refused with a message): the legacy pre-1.6 torch.save
 * format (a bare pickle), big-endian checkpoints, tensors of more than
 * TF_MAX_DIMS dimensions.  The mapping is read-only and stays valid until
 * tf_close(); a file truncated by someone else while mapped can still raise
 * SIGBUS.  One tensorfile_t must not be read from two threads at once.
 */
#ifndef TENSORFILE_H
#define TENSORFILE_H
#include "util.h"
#include <stddef.h>
#include <stdint.h>

#define TF_MAX_DIMS 8

typedef enum {
    TF_F32,
    TF_F16,
    TF_BF16,
    TF_F64,
    TF_I64,
    TF_I32,
    TF_I16,
    TF_I8,
    TF_U8,
    TF_BOOL,
    TF_U16,
    TF_U32,
    TF_U64,
    TF_F8_E4M3,
    TF_F8_E5M2,
    TF_NDTYPES
} tf_dtype_t;

typedef struct {
    const char *name;
    tf_dtype_t dtype;
    int ndim; /* 0 for a scalar */
    int64_t shape[TF_MAX_DIMS];
    size_t numel; /* product of shape (1 for a scalar) */
} tf_info_t;

typedef struct tensorfile tensorfile_t;

/* Open a file (memory-mapped).  NULL on error (EXIT_MODEL, message names path). */
tensorfile_t *tf_open(const char *path, err_t *e);
/* The same over bytes in memory, which must outlive the tensorfile; `name`
 * is used in messages. */
tensorfile_t *tf_open_mem(const void *data, size_t size, const char *name, err_t *e);
/* Run a bare data.pkl through the pickle VM and list its tensors (for tests
 * and fuzzing: there is no storage, so tf_read_f32 refuses every tensor). */
tensorfile_t *tf_open_pickle(const void *pkl, size_t size, const char *name, err_t *e);
void tf_close(tensorfile_t *tf);

const char *tf_name(const tensorfile_t *tf);   /* path or name given at open */
const char *tf_format(const tensorfile_t *tf); /* "safetensors", "pytorch-zip", "torchscript", "pickle" */
size_t tf_count(const tensorfile_t *tf);
const tf_info_t *tf_info(const tensorfile_t *tf, size_t i);         /* sorted by name */
const tf_info_t *tf_find(const tensorfile_t *tf, const char *name); /* NULL if absent */
/* safetensors "__metadata__" value for key, or NULL. */
const char *tf_meta(const tensorfile_t *tf, const char *key);

/* Zero-copy float view of an F32 tensor (little-endian host, contiguous,
 * 4-byte aligned in the mapping), or NULL: then use tf_read_f32. */
const float *tf_f32_view(const tensorfile_t *tf, const tf_info_t *t);
/* Convert tensor t (from this tf) to float32 into dst[t->numel].  F16 and BF16
 * convert exactly (subnormals, inf and NaN included); F64 rounds.  0 or
 * EXIT_MODEL (integer dtype, unreadable entry, ...). */
int tf_read_f32(tensorfile_t *tf, const tf_info_t *t, float *dst, err_t *e);

const char *tf_dtype_name(tf_dtype_t d); /* safetensors spelling: "F32", "BF16", ... */
size_t tf_dtype_size(tf_dtype_t d);

/* Element conversions (exposed for tests and writers). */
float tf_f16_to_f32(uint16_t h);
float tf_bf16_to_f32(uint16_t h);
/* Round to nearest, ties to even (as torch's .half() and F16C's VCVTPS2PH); overflow -> inf. */
uint16_t tf_f32_to_f16(float f);

/* Writing safetensors (checkpoint.c, clip_load.c): the caller builds the header
 * in a buf_t, starting "{\"__metadata__\":{...}" and adding one entry per
 * tensor; tf_write_header closes and pads it and writes length + header. */
/* Append ,"name":{"dtype":"F32","shape":[...],"data_offsets":[off,off+4*numel]};
 * returns the entry's byte count (4 * numel). */
uint64_t tf_header_f32(buf_t *h, const char *name, int nd, const int *shape, uint64_t off);
/* The same for any dtype (F32 or F16 from the writers); returns the entry's byte count. */
uint64_t tf_header_entry(buf_t *h, const char *name, tf_dtype_t dt, int nd, const int *shape, uint64_t off);
/* Append the closing "}", pad with spaces so the data section starts 8-byte
 * aligned (as the safetensors library writes) and write the 8-byte
 * little-endian length and the header to fp. */
void tf_write_header(FILE *fp, buf_t *h);
#endif
