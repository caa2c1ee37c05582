/* tensorfile.c - see tensorfile.h.
 *
 * Layout: the container (tensorfile_t) keeps one tensor_t per tensor, sorted
 * by name.  A safetensors tensor points into the mapping; a zip tensor names
 * a zip entry (its storage) plus an element offset and strides.  The pickle
 * VM below builds values in a pool freed in one go; nothing it builds is ever
 * called -- "callables" are tags of the allow-listed globals.
 */
#define _GNU_SOURCE
#include "tensorfile.h"
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#define PKL_MAX_BYTES ((size_t)256 << 20)      /* a CLIP data.pkl is ~100 KB */
#define SAFET_MAX_HEADER ((uint64_t)100 << 20) /* the safetensors library's own limit */
#define FLAT_MAX_DEPTH 64
#define FLAT_MAX_VISITS 4000000

typedef struct {
    tf_info_t info; /* first: tf_info_t* <-> tensor_t* */
    /* safetensors: bytes in the mapping */
    const unsigned char *data;
    /* zip: storage entry, element offset into it, element strides */
    int64_t entry;   /* -1 for safetensors */
    uint64_t offset; /* elements */
    int64_t stride[TF_MAX_DIMS];
    uint64_t extent; /* elements spanned from offset (max index + 1) */
    int contiguous;
} tensor_t;

struct tensorfile {
    char *name;
    const char *format;
    void *map; /* our mapping (tf_open), or NULL */
    size_t map_len;
    const unsigned char *bytes;
    size_t size;
    tensor_t *t;
    size_t n, cap;
    char **meta; /* key, value, key, value ... */
    size_t nmeta;
    zip_t *zip;
};

static const struct {
    const char *name;
    size_t size;
} dtypes[TF_NDTYPES] = {
    [TF_F32] = {"F32", 4},   [TF_F16] = {"F16", 2},         [TF_BF16] = {"BF16", 2},
    [TF_F64] = {"F64", 8},   [TF_I64] = {"I64", 8},         [TF_I32] = {"I32", 4},
    [TF_I16] = {"I16", 2},   [TF_I8] = {"I8", 1},           [TF_U8] = {"U8", 1},
    [TF_BOOL] = {"BOOL", 1}, [TF_U16] = {"U16", 2},         [TF_U32] = {"U32", 4},
    [TF_U64] = {"U64", 8},   [TF_F8_E4M3] = {"F8_E4M3", 1}, [TF_F8_E5M2] = {"F8_E5M2", 1},
};

const char *tf_dtype_name(tf_dtype_t d) { return (unsigned)d < TF_NDTYPES ? dtypes[d].name : "?"; }
size_t tf_dtype_size(tf_dtype_t d) { return (unsigned)d < TF_NDTYPES ? dtypes[d].size : 0; }

float tf_f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000) << 16, ex = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (ex == 0x1f)
        u = s | 0x7f800000u | (m ? 0x400000u | m << 13 : 0); /* inf; NaN quieted, as F16C does */
    else if (ex)
        u = s | ((ex + 112) << 23) | (m << 13); /* rebias 15 -> 127 */
    else if (m) {                               /* subnormal: m * 2^-24, exact in f32 */
        float f = (float)m * 0x1p-24f;
        return s ? -f : f;
    } else
        u = s;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t tf_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t s = (u >> 16) & 0x8000, ex = (u >> 23) & 0xff, m = u & 0x7fffff;
    if (ex == 0xff) return (uint16_t)(s | 0x7c00 | (m ? 0x200 | (m >> 13) : 0)); /* inf; NaN stays NaN */
    int e = (int)ex - 127 + 15;
    if (e >= 0x1f) return (uint16_t)(s | 0x7c00); /* overflow: inf, as a cast does */
    if (e <= 0) {                                 /* subnormal or zero: round m' = value * 2^24 */
        if (e < -10) return (uint16_t)s;
        m |= 0x800000;
        int shift = 14 - e; /* 24 - (e + 10) */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(s | q); /* a carry into the exponent field is the right result */
    }
    uint32_t q = ((uint32_t)e << 10) | (m >> 13), rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++; /* ties to even; a carry may reach inf: correct */
    return (uint16_t)(s | q);
}

float tf_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int host_le(void) {
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

/* a*b into *r, 0 on overflow */
static int mul_ok(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static int add_ok(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }

/* ------------------------------------------------------------------ container */

static tensorfile_t *tf_new(const char *name) {
    tensorfile_t *tf = xcalloc(1, sizeof *tf);
    tf->name = xstrdup(name ? name : "<memory>");
    return tf;
}

static tensor_t *tf_add(tensorfile_t *tf, const char *name) {
    if (tf->n == tf->cap) {
        tf->cap = tf->cap ? 2 * tf->cap : 64;
        tf->t = xrealloc(tf->t, tf->cap * sizeof *tf->t);
    }
    tensor_t *t = &tf->t[tf->n++];
    memset(t, 0, sizeof *t);
    t->info.name = xstrdup(name);
    t->entry = -1;
    t->contiguous = 1;
    return t;
}

void tf_close(tensorfile_t *tf) {
    if (!tf) return;
    for (size_t i = 0; i < tf->n; i++) free((char *)tf->t[i].info.name);
    for (size_t i = 0; i < 2 * tf->nmeta; i++) free(tf->meta[i]);
    free(tf->meta);
    free(tf->t);
    if (tf->zip) zip_discard(tf->zip);
    if (tf->map) munmap(tf->map, tf->map_len);
    free(tf->name);
    free(tf);
}

const char *tf_name(const tensorfile_t *tf) { return tf->name; }
const char *tf_format(const tensorfile_t *tf) { return tf->format; }
size_t tf_count(const tensorfile_t *tf) { return tf->n; }
const tf_info_t *tf_info(const tensorfile_t *tf, size_t i) { return i < tf->n ? &tf->t[i].info : NULL; }

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const tensor_t *)a)->info.name, ((const tensor_t *)b)->info.name);
}
static int cmp_key(const void *k, const void *b) { return strcmp(k, ((const tensor_t *)b)->info.name); }

const tf_info_t *tf_find(const tensorfile_t *tf, const char *name) {
    tensor_t *t = tf->n ? bsearch(name, tf->t, tf->n, sizeof *tf->t, cmp_key) : NULL;
    return t ? &t->info : NULL;
}

const char *tf_meta(const tensorfile_t *tf, const char *key) {
    for (size_t i = 0; i < tf->nmeta; i++)
        if (!strcmp(tf->meta[2 * i], key)) return tf->meta[2 * i + 1];
    return NULL;
}

/* Sort by name and refuse duplicates (a pickle dict or JSON object can repeat a key). */
static int tf_finish(tensorfile_t *tf, err_t *e) {
    if (tf->n) qsort(tf->t, tf->n, sizeof *tf->t, cmp_tensor);
    for (size_t i = 1; i < tf->n; i++)
        if (!strcmp(tf->t[i].info.name, tf->t[i - 1].info.name))
            return err_set(e, EXIT_MODEL, "%s: tensor '%s' appears twice", tf->name, tf->t[i].info.name);
    return 0;
}

/* Set shape and numel (overflow-checked; numel must also fit size_t bytes). */
static int set_shape(tensorfile_t *tf, tensor_t *t, int ndim, const int64_t *shape, err_t *e) {
    if (ndim > TF_MAX_DIMS)
        return err_set(e, EXIT_MODEL, "%s: tensor '%s' has %d dimensions (at most %d supported)", tf->name,
                       t->info.name, ndim, TF_MAX_DIMS);
    uint64_t n = 1, bytes;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return err_set(e, EXIT_MODEL, "%s: tensor '%s': negative dimension %" PRId64, tf->name,
                           t->info.name, shape[i]);
        if (!mul_ok(n, (uint64_t)shape[i], &n))
            return err_set(e, EXIT_MODEL, "%s: tensor '%s': shape overflows", tf->name, t->info.name);
        t->info.shape[i] = shape[i];
    }
    if (!mul_ok(n, tf_dtype_size(t->info.dtype), &bytes) || bytes > (uint64_t)PTRDIFF_MAX / 2)
        return err_set(e, EXIT_MODEL, "%s: tensor '%s': shape too large", tf->name, t->info.name);
    t->info.ndim = ndim;
    t->info.numel = (size_t)n;
    return 0;
}

/* ------------------------------------------------------------------ safetensors */

static int st_dtype(const char *s, tf_dtype_t *d) {
    for (int i = 0; i < TF_NDTYPES; i++)
        if (!strcmp(s, dtypes[i].name)) return *d = (tf_dtype_t)i, 1;
    return 0;
}

/* A JSON number that is an exact non-negative integer <= 2^53. */
static int json_uint(const cJSON *j, uint64_t *v) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return 0;
    *v = (uint64_t)d;
    return 1;
}

typedef struct {
    uint64_t b, e;
    const char *name;
} span_t;
static int cmp_span(const void *a, const void *b) {
    const span_t *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b ? 1 : (x->e > y->e) - (x->e < y->e);
}

static int st_parse(tensorfile_t *tf, err_t *e) {
    const unsigned char *p = tf->bytes;
    if (tf->size < 8)
        return err_set(e, EXIT_MODEL, "%s: truncated safetensors file (%zu bytes)", tf->name, tf->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    if (hlen > tf->size - 8)
        return err_set(e, EXIT_MODEL,
                       "%s: safetensors header claims %" PRIu64
                       " bytes but the file has %zu after the length "
                       "(truncated file?)",
                       tf->name, hlen, tf->size - 8);
    if (hlen > SAFET_MAX_HEADER)
        return err_set(e, EXIT_MODEL, "%s: safetensors header of %" PRIu64 " bytes is too large", tf->name,
                       hlen);
    const unsigned char *data = p + 8 + hlen;
    uint64_t dlen = tf->size - 8 - hlen;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)p + 8, (size_t)hlen, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(e, EXIT_MODEL, "%s: safetensors header is not a JSON object (corrupt file?)",
                       tf->name);
    }
    /* the header may be padded with spaces after the JSON; anything else is corruption */
    for (; end && end < (const char *)data; end++)
        if (*end != ' ' && *end != '\n' && *end != '\t' && *end != '\r' && *end != 0) {
            cJSON_Delete(root);
            return err_set(e, EXIT_MODEL, "%s: garbage after the safetensors header's JSON", tf->name);
        }
    int rc = 0;
    size_t nspan = 0;
    span_t *spans = xcalloc((size_t)cJSON_GetArraySize(root) + 1, sizeof *spans);
    for (cJSON *it = root->child; it && !rc; it = it->next) {
        const char *nm = it->string ? it->string : "";
        if (!strcmp(nm, "__metadata__")) {
            if (!cJSON_IsObject(it)) {
                rc = err_set(e, EXIT_MODEL, "%s: __metadata__ is not an object", tf->name);
                break;
            }
            for (cJSON *m = it->child; m; m = m->next)
                if (cJSON_IsString(m) && m->string) {
                    tf->meta = xrealloc(tf->meta, (tf->nmeta + 1) * 2 * sizeof *tf->meta);
                    tf->meta[2 * tf->nmeta] = xstrdup(m->string);
                    tf->meta[2 * tf->nmeta + 1] = xstrdup(m->valuestring);
                    tf->nmeta++;
                }
            continue;
        }
        const cJSON *jd = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(it, "shape");
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsObject(it) || !cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo) ||
            cJSON_GetArraySize(jo) != 2) {
            rc = err_set(e, EXIT_MODEL,
                         "%s: tensor '%s': header entry needs dtype, shape and data_offsets [begin, end]",
                         tf->name, nm);
            break;
        }
        tensor_t *t = tf_add(tf, nm);
        if (!st_dtype(jd->valuestring, &t->info.dtype)) {
            rc = err_set(e, EXIT_MODEL, "%s: tensor '%s': unknown dtype '%.32s'", tf->name, nm,
                         jd->valuestring);
            break;
        }
        int64_t shape[TF_MAX_DIMS];
        int nd = cJSON_GetArraySize(js);
        if (nd > TF_MAX_DIMS) {
            rc = err_set(e, EXIT_MODEL, "%s: tensor '%s' has %d dimensions (at most %d supported)", tf->name,
                         nm, nd, TF_MAX_DIMS);
            break;
        }
        int k = 0;
        for (cJSON *d = js->child; d; d = d->next, k++) {
            uint64_t v;
            if (!json_uint(d, &v)) {
                rc = err_set(e, EXIT_MODEL, "%s: tensor '%s': dimension %d is not a non-negative integer",
                             tf->name, nm, k);
                break;
            }
            shape[k] = (int64_t)v;
        }
        if (rc || (rc = set_shape(tf, t, nd, shape, e))) break;
        uint64_t b, en, want;
        if (!json_uint(jo->child, &b) || !json_uint(jo->child->next, &en)) {
            rc = err_set(e, EXIT_MODEL, "%s: tensor '%s': data_offsets are not non-negative integers",
                         tf->name, nm);
            break;
        }
        if (b > en || en > dlen) {
            rc = err_set(e, EXIT_MODEL,
                         "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] outside the data section "
                         "(%" PRIu64 " bytes; truncated file?)",
                         tf->name, nm, b, en, dlen);
            break;
        }
        want = (uint64_t)t->info.numel * tf_dtype_size(t->info.dtype);
        if (en - b != want) {
            rc = err_set(e, EXIT_MODEL,
                         "%s: tensor '%s': %s shape needs %" PRIu64 " bytes but data_offsets span %" PRIu64,
                         tf->name, nm, tf_dtype_name(t->info.dtype), want, en - b);
            break;
        }
        t->data = data + b;
        t->extent = t->info.numel;
        spans[nspan++] = (span_t){b, en, t->info.name};
    }
    cJSON_Delete(root);
    if (!rc) {
        qsort(spans, nspan, sizeof *spans, cmp_span);
        size_t last = 0; /* the span reaching furthest so far */
        for (size_t i = 1; i < nspan && !rc; i++) {
            if (spans[i].b == spans[i].e) continue;
            if (spans[i].b < spans[last].e)
                rc = err_set(e, EXIT_MODEL, "%s: tensors '%s' and '%s' overlap in the data section", tf->name,
                             spans[last].name, spans[i].name);
            if (spans[i].e > spans[last].e) last = i;
        }
    }
    free(spans);
    tf->format = "safetensors";
    return rc;
}

/* ------------------------------------------------------------------ pickle VM */

enum { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_OBJ, V_STORAGE, V_TENSOR };

/* allow-listed globals */
enum { G_ODICT, G_REBUILD_V2, G_PARAM, G_FROM_TYPE, G_TYPE, G_STORAGE, G_DEVICE, G_IDENTITY, G_CLASS };

typedef struct val val_t;
struct val {
    int kind;
    int64_t i; /* INT, BOOL; GLOBAL: G_*; STORAGE: numel */
    double f;
    char *s;    /* STR; GLOBAL: "module.name"; STORAGE: key */
    size_t len; /* STR length */
    val_t **it; /* TUPLE, LIST, DICT (k0,v0,k1,v1...), OBJ (cls, state) */
    size_t n, cap;
    int dtype; /* STORAGE, GLOBAL G_STORAGE */
    /* TENSOR */
    val_t *storage;
    uint64_t offset, extent;
    int ndim;
    int64_t shape[TF_MAX_DIMS], stride[TF_MAX_DIMS];
};

typedef struct {
    tensorfile_t *tf;
    const char *where; /* "data.pkl" entry name, for messages */
    err_t *e;
    val_t **pool; /* every value, for freeing */
    size_t npool, cappool;
    val_t **st; /* stack */
    size_t nst, capst;
    size_t *marks;
    size_t nmarks, capmarks;
    val_t **memo;
    size_t nmemo;
    size_t visits;
    buf_t name;
} vm_t;

static val_t *vnew(vm_t *m, int kind) {
    if (m->npool == m->cappool) {
        m->cappool = m->cappool ? 2 * m->cappool : 256;
        m->pool = xrealloc(m->pool, m->cappool * sizeof *m->pool);
    }
    val_t *v = xcalloc(1, sizeof *v);
    v->kind = kind;
    m->pool[m->npool++] = v;
    return v;
}

static void vpush_item(val_t *c, val_t *x) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4;
        c->it = xrealloc(c->it, c->cap * sizeof *c->it);
    }
    c->it[c->n++] = x;
}

static void vm_free(vm_t *m) {
    for (size_t i = 0; i < m->npool; i++) {
        free(m->pool[i]->s);
        free(m->pool[i]->it);
        free(m->pool[i]);
    }
    free(m->pool);
    free(m->st);
    free(m->marks);
    free(m->memo);
    buf_free(&m->name);
}

static int vm_err(vm_t *m, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int vm_err(vm_t *m, size_t pos, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(m->e, EXIT_MODEL, "%s: %s, byte %zu: %s", m->tf->name, m->where, pos, msg);
}

static void push(vm_t *m, val_t *v) {
    if (m->nst == m->capst) {
        m->capst = m->capst ? 2 * m->capst : 64;
        m->st = xrealloc(m->st, m->capst * sizeof *m->st);
    }
    m->st[m->nst++] = v;
}

static size_t floor_mark(const vm_t *m) { return m->nmarks ? m->marks[m->nmarks - 1] : 0; }

static val_t *pop(vm_t *m) { return m->nst > floor_mark(m) ? m->st[--m->nst] : NULL; }
static val_t *top(vm_t *m) { return m->nst > floor_mark(m) ? m->st[m->nst - 1] : NULL; }

static const char *kind_name(int k) {
    static const char *n[] = {"None", "bool", "int",    "float",  "str",     "tuple",
                              "list", "dict", "global", "object", "storage", "tensor"};
    return n[k];
}

/* Resolve "module name" against the allow-list. */
static int vm_global(vm_t *m, size_t pos, const char *mod, size_t ml, const char *nm, size_t nl) {
    static const struct {
        const char *mod, *name;
        int g, dtype;
    } allow[] = {
        {"collections", "OrderedDict", G_ODICT, 0},
        {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_V2, 0},
        {"torch._utils", "_rebuild_parameter", G_PARAM, 0},
        {"torch._utils", "_rebuild_parameter_with_state", G_PARAM, 0},
        {"torch._tensor", "_rebuild_from_type_v2", G_FROM_TYPE, 0},
        {"torch._tensor", "Tensor", G_TYPE, 0},
        {"torch", "Tensor", G_TYPE, 0},
        {"torch.nn.parameter", "Parameter", G_TYPE, 0},
        {"torch", "device", G_DEVICE, 0},
        {"torch.jit._pickle", "restore_type_tag", G_IDENTITY, 0},
        {"torch.jit._pickle", "build_intlist", G_IDENTITY, 0},
        {"torch.jit._pickle", "build_doublelist", G_IDENTITY, 0},
        {"torch.jit._pickle", "build_boollist", G_IDENTITY, 0},
        {"torch.jit._pickle", "build_tensorlist", G_IDENTITY, 0},
        {"torch", "FloatStorage", G_STORAGE, TF_F32},
        {"torch", "HalfStorage", G_STORAGE, TF_F16},
        {"torch", "BFloat16Storage", G_STORAGE, TF_BF16},
        {"torch", "DoubleStorage", G_STORAGE, TF_F64},
        {"torch", "LongStorage", G_STORAGE, TF_I64},
        {"torch", "IntStorage", G_STORAGE, TF_I32},
        {"torch", "ShortStorage", G_STORAGE, TF_I16},
        {"torch", "CharStorage", G_STORAGE, TF_I8},
        {"torch", "ByteStorage", G_STORAGE, TF_U8},
        {"torch", "BoolStorage", G_STORAGE, TF_BOOL},
    };
    val_t *v = vnew(m, V_GLOBAL);
    v->s = xmalloc(ml + nl + 2);
    memcpy(v->s, mod, ml);
    v->s[ml] = '.';
    memcpy(v->s + ml + 1, nm, nl);
    v->s[ml + nl + 1] = 0;
    for (size_t k = 0; k < sizeof allow / sizeof *allow; k++)
        if (strlen(allow[k].mod) == ml && !memcmp(allow[k].mod, mod, ml) && strlen(allow[k].name) == nl &&
            !memcmp(allow[k].name, nm, nl)) {
            v->i = allow[k].g;
            v->dtype = allow[k].dtype;
            push(m, v);
            return 0;
        }
    /* TorchScript module classes: inert records of attributes */
    if ((ml == 9 && !memcmp(mod, "__torch__", 9)) || (ml > 9 && !memcmp(mod, "__torch__.", 10))) {
        v->i = G_CLASS;
        push(m, v);
        return 0;
    }
    char shown[120];
    snprintf(shown, sizeof shown, "%.*s.%.*s", (int)(ml > 50 ? 50 : ml), mod, (int)(nl > 50 ? 50 : nl), nm);
    for (char *c = shown; *c; c++)
        if ((unsigned char)*c < 32 || (unsigned char)*c >= 127) *c = '?';
    return vm_err(m, pos,
                  "refusing global '%s': only tensors, storages, OrderedDict and TorchScript modules are "
                  "allowed (the file may try to run code)",
                  shown);
}

static int as_int(const val_t *v, int64_t *out) {
    if (!v || (v->kind != V_INT && v->kind != V_BOOL)) return 0;
    *out = v->i;
    return 1;
}

/* torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static val_t *rebuild_tensor(vm_t *m, size_t pos, val_t *args) {
    if (args->n < 4 || args->it[0]->kind != V_STORAGE || args->it[2]->kind != V_TUPLE ||
        args->it[3]->kind != V_TUPLE) {
        vm_err(m, pos, "_rebuild_tensor_v2 expects (storage, offset, size, stride, ...)");
        return NULL;
    }
    val_t *st = args->it[0], *sz = args->it[2], *sd = args->it[3];
    int64_t off;
    if (!as_int(args->it[1], &off) || off < 0) {
        vm_err(m, pos, "bad storage offset");
        return NULL;
    }
    if (sz->n != sd->n || sz->n > TF_MAX_DIMS) {
        vm_err(m, pos, "tensor with %zu sizes and %zu strides (at most %d dimensions)", sz->n, sd->n,
               TF_MAX_DIMS);
        return NULL;
    }
    val_t *t = vnew(m, V_TENSOR);
    t->storage = st;
    t->offset = (uint64_t)off;
    t->ndim = (int)sz->n;
    uint64_t numel = 1, ext = 0;
    for (size_t k = 0; k < sz->n; k++) {
        int64_t a, b;
        uint64_t span;
        if (!as_int(sz->it[k], &a) || !as_int(sd->it[k], &b) || a < 0 || b < 0) {
            vm_err(m, pos, "bad tensor size or stride");
            return NULL;
        }
        t->shape[k] = a;
        t->stride[k] = b;
        if (!mul_ok(numel, (uint64_t)a, &numel) ||
            (a && (!mul_ok((uint64_t)a - 1, (uint64_t)b, &span) || !add_ok(ext, span, &ext)))) {
            vm_err(m, pos, "tensor size overflows");
            return NULL;
        }
    }
    t->extent = numel ? ext + 1 : 0;
    uint64_t endel;
    if (!add_ok(t->offset, t->extent, &endel) || endel > (uint64_t)st->i) {
        vm_err(m, pos,
               "tensor (offset %" PRIu64 ", %" PRIu64 " elements spanned) exceeds its storage of %" PRId64
               " elements",
               t->offset, t->extent, st->i);
        return NULL;
    }
    return t;
}

/* Apply an allow-listed callable. */
static val_t *vm_call(vm_t *m, size_t pos, val_t *fn, val_t *args, int depth) {
    if (!fn || fn->kind != V_GLOBAL) {
        vm_err(m, pos, "REDUCE on a %s, not a global", fn ? kind_name(fn->kind) : "missing value");
        return NULL;
    }
    if (!args || args->kind != V_TUPLE) {
        vm_err(m, pos, "REDUCE arguments are not a tuple");
        return NULL;
    }
    switch (fn->i) {
    case G_ODICT:
        return vnew(m, V_DICT);
    case G_REBUILD_V2:
        return rebuild_tensor(m, pos, args);
    case G_PARAM:
    case G_IDENTITY:
    case G_DEVICE:
        if (args->n >= 1) return args->it[0];
        break;
    case G_FROM_TYPE: /* (func, type, args, state) -> func(*args) */
        if (args->n >= 3 && args->it[2]->kind == V_TUPLE && depth < 4)
            return vm_call(m, pos, args->it[0], args->it[2], depth + 1);
        break;
    case G_CLASS: {
        val_t *o = vnew(m, V_OBJ);
        vpush_item(o, fn);
        return o;
    }
    default:
        break;
    }
    vm_err(m, pos, "cannot call '%s' with these arguments", fn->s);
    return NULL;
}

static uint64_t rd_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int vm_run(vm_t *m, const unsigned char *p, size_t n, val_t **result) {
    size_t i = 0;
#define NEED(k)                                                                                              \
    do {                                                                                                     \
        if (n - i < (size_t)(k)) return vm_err(m, op_at, "truncated pickle");                                \
    } while (0)
#define POP(v)                                                                                               \
    do {                                                                                                     \
        if (!((v) = pop(m))) return vm_err(m, op_at, "stack underflow at opcode 0x%02x", op);                \
    } while (0)
    while (i < n) {
        size_t op_at = i;
        unsigned op = p[i++];
        val_t *v, *a, *b;
        switch (op) {
        case 0x80:
            NEED(1);
            i++;
            break; /* PROTO */
        case 0x95:
            NEED(8);
            i += 8;
            break; /* FRAME */
        case '.':  /* STOP */
            if (m->nmarks || m->nst != 1)
                return vm_err(m, op_at, "STOP with %zu values on the stack", m->nst);
            *result = m->st[0];
            return 0;
        case '(': /* MARK */
            if (m->nmarks == m->capmarks) {
                m->capmarks = m->capmarks ? 2 * m->capmarks : 16;
                m->marks = xrealloc(m->marks, m->capmarks * sizeof *m->marks);
            }
            m->marks[m->nmarks++] = m->nst;
            break;
        case '0':
            POP(v);
            break; /* POP */
        case '1':  /* POP_MARK */
            if (!m->nmarks) return vm_err(m, op_at, "POP_MARK without MARK");
            m->nst = m->marks[--m->nmarks];
            break;
        case '2': /* DUP */
            if (!(v = top(m))) return vm_err(m, op_at, "DUP on empty stack");
            push(m, v);
            break;
        case 'N':
            push(m, vnew(m, V_NONE));
            break;
        case 0x88:
        case 0x89: /* NEWTRUE, NEWFALSE */
            v = vnew(m, V_BOOL);
            v->i = op == 0x88;
            push(m, v);
            break;
        case 'J':
            NEED(4);
            v = vnew(m, V_INT);
            v->i = (int32_t)(uint32_t)rd_le(p + i, 4);
            i += 4;
            push(m, v);
            break;
        case 'K':
            NEED(1);
            v = vnew(m, V_INT);
            v->i = p[i];
            i += 1;
            push(m, v);
            break;
        case 'M':
            NEED(2);
            v = vnew(m, V_INT);
            v->i = (int64_t)rd_le(p + i, 2);
            i += 2;
            push(m, v);
            break;
        case 0x8a:
        case 0x8b: { /* LONG1, LONG4 */
            int w = op == 0x8a ? 1 : 4;
            NEED(w);
            uint64_t len = rd_le(p + i, w);
            i += w;
            if (len > 8) return vm_err(m, op_at, "integer of %" PRIu64 " bytes is too large", len);
            NEED(len);
            uint64_t u = rd_le(p + i, (int)len);
            if (len && len < 8 && (p[i + len - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * len); /* sign-extend */
            i += len;
            v = vnew(m, V_INT);
            v->i = (int64_t)u;
            push(m, v);
            break;
        }
        case 'G': { /* BINFLOAT, big-endian */
            NEED(8);
            uint64_t u = 0;
            for (int k = 0; k < 8; k++) u = u << 8 | p[i + k];
            i += 8;
            v = vnew(m, V_FLOAT);
            memcpy(&v->f, &u, 8);
            push(m, v);
            break;
        }
        case 0x8c:
        case 'X':
        case 0x8d:
        case 'U':
        case 'T':
        case 'C':
        case 'B':
        case 0x8e: {
            /* SHORT_BINUNICODE, BINUNICODE, BINUNICODE8, SHORT_BINSTRING, BINSTRING, SHORT_BINBYTES,
             * BINBYTES, BINBYTES8: all strings to us */
            int w = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
            NEED(w);
            uint64_t len = rd_le(p + i, w);
            i += w;
            NEED(len);
            v = vnew(m, V_STR);
            v->s = xmalloc((size_t)len + 1);
            memcpy(v->s, p + i, (size_t)len);
            v->s[len] = 0;
            v->len = (size_t)len;
            i += (size_t)len;
            push(m, v);
            break;
        }
        case ')':
            push(m, vnew(m, V_TUPLE));
            break; /* EMPTY_TUPLE */
        case ']':
            push(m, vnew(m, V_LIST));
            break; /* EMPTY_LIST */
        case '}':
            push(m, vnew(m, V_DICT));
            break; /* EMPTY_DICT */
        case 0x85:
        case 0x86:
        case 0x87: { /* TUPLE1..3 */
            int k = (int)op - 0x84;
            if (m->nst < floor_mark(m) + (size_t)k) return vm_err(m, op_at, "stack underflow in TUPLE%d", k);
            v = vnew(m, V_TUPLE);
            for (int j = 0; j < k; j++) vpush_item(v, m->st[m->nst - k + j]);
            m->nst -= k;
            push(m, v);
            break;
        }
        case 't':
        case 'l':
        case 'd': { /* TUPLE, LIST, DICT from MARK */
            if (!m->nmarks) return vm_err(m, op_at, "opcode '%c' without MARK", op);
            size_t from = m->marks[--m->nmarks];
            v = vnew(m, op == 't' ? V_TUPLE : op == 'l' ? V_LIST : V_DICT);
            if (op == 'd' && (m->nst - from) % 2) return vm_err(m, op_at, "DICT with an odd number of items");
            for (size_t j = from; j < m->nst; j++) vpush_item(v, m->st[j]);
            m->nst = from;
            push(m, v);
            break;
        }
        case 'a': /* APPEND */
            POP(b);
            if (!(a = top(m)) || a->kind != V_LIST) return vm_err(m, op_at, "APPEND to a non-list");
            vpush_item(a, b);
            break;
        case 'e':
        case 'u': { /* APPENDS, SETITEMS */
            if (!m->nmarks) return vm_err(m, op_at, "opcode '%c' without MARK", op);
            size_t from = m->marks[--m->nmarks];
            if (from <= floor_mark(m)) return vm_err(m, op_at, "opcode '%c' with no target", op);
            a = m->st[from - 1];
            if (a->kind != (op == 'e' ? V_LIST : V_DICT))
                return vm_err(m, op_at, "%s into a %s", op == 'e' ? "APPENDS" : "SETITEMS",
                              kind_name(a->kind));
            if (op == 'u' && (m->nst - from) % 2)
                return vm_err(m, op_at, "SETITEMS with an odd number of items");
            for (size_t j = from; j < m->nst; j++) vpush_item(a, m->st[j]);
            m->nst = from;
            break;
        }
        case 's': /* SETITEM */
            POP(b);
            POP(a);
            if (!(v = top(m)) || v->kind != V_DICT) return vm_err(m, op_at, "SETITEM into a non-dict");
            vpush_item(v, a);
            vpush_item(v, b);
            break;
        case 'c': { /* GLOBAL "module\nname\n" */
            const unsigned char *nl1 = memchr(p + i, '\n', n - i);
            if (!nl1) return vm_err(m, op_at, "truncated GLOBAL");
            const unsigned char *nl2 = memchr(nl1 + 1, '\n', n - (size_t)(nl1 + 1 - p));
            if (!nl2) return vm_err(m, op_at, "truncated GLOBAL");
            int rc = vm_global(m, op_at, (const char *)p + i, (size_t)(nl1 - (p + i)), (const char *)nl1 + 1,
                               (size_t)(nl2 - nl1 - 1));
            if (rc) return rc;
            i = (size_t)(nl2 + 1 - p);
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            POP(b);
            POP(a);
            if (a->kind != V_STR || b->kind != V_STR)
                return vm_err(m, op_at, "STACK_GLOBAL needs two strings");
            {
                int rc = vm_global(m, op_at, a->s, a->len, b->s, b->len);
                if (rc) return rc;
            }
            break;
        case 'R':
        case 0x81: /* REDUCE, NEWOBJ */
            POP(b);
            POP(a);
            if (op == 0x81 && (a->kind != V_GLOBAL || a->i != G_CLASS))
                return vm_err(m, op_at, "NEWOBJ of '%s' refused",
                              a->kind == V_GLOBAL ? a->s : kind_name(a->kind));
            if (!(v = vm_call(m, op_at, a, b, 0))) return EXIT_MODEL;
            push(m, v);
            break;
        case 'b': /* BUILD */
            POP(b);
            if (!(a = top(m))) return vm_err(m, op_at, "BUILD on empty stack");
            if (a->kind == V_OBJ) {
                if (a->n == 1)
                    vpush_item(a, b);
                else
                    a->it[1] = b;
            } else if (a->kind != V_DICT && a->kind != V_TENSOR) /* OrderedDict _metadata, tensor state */
                return vm_err(m, op_at, "BUILD on a %s", kind_name(a->kind));
            break;
        case 'Q': { /* BINPERSID: ('storage', type, key, location, numel) */
            POP(a);
            int64_t numel;
            if (a->kind != V_TUPLE || a->n < 5 || a->it[0]->kind != V_STR || strcmp(a->it[0]->s, "storage") ||
                a->it[1]->kind != V_GLOBAL || a->it[1]->i != G_STORAGE || a->it[2]->kind != V_STR ||
                !as_int(a->it[4], &numel) || numel < 0)
                return vm_err(m, op_at,
                              "persistent id is not ('storage', torch.<Type>Storage, key, location, numel)");
            v = vnew(m, V_STORAGE);
            v->dtype = a->it[1]->dtype;
            v->s = xstrdup(a->it[2]->s);
            v->i = numel;
            push(m, v);
            break;
        }
        case 'q':
        case 'r':
        case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
            size_t idx;
            if (op == 0x94)
                idx = m->nmemo;
            else {
                int w = op == 'q' ? 1 : 4;
                NEED(w);
                idx = (size_t)rd_le(p + i, w);
                i += w;
            }
            if (!(v = top(m))) return vm_err(m, op_at, "memo put on empty stack");
            if (idx > n + 256) return vm_err(m, op_at, "memo index %zu out of range", idx);
            if (idx >= m->nmemo) {
                m->memo = xrealloc(m->memo, (idx + 1) * sizeof *m->memo);
                memset(m->memo + m->nmemo, 0, (idx + 1 - m->nmemo) * sizeof *m->memo);
                m->nmemo = idx + 1;
            }
            m->memo[idx] = v;
            break;
        }
        case 'h':
        case 'j': { /* BINGET, LONG_BINGET */
            int w = op == 'h' ? 1 : 4;
            NEED(w);
            size_t idx = (size_t)rd_le(p + i, w);
            i += w;
            if (idx >= m->nmemo || !m->memo[idx]) return vm_err(m, op_at, "memo index %zu is not set", idx);
            push(m, m->memo[idx]);
            break;
        }
        default:
            return vm_err(m, op_at, "unsupported pickle opcode 0x%02x", op);
        }
    }
    return err_set(m->e, EXIT_MODEL, "%s: %s: pickle ends without STOP (truncated?)", m->tf->name, m->where);
#undef NEED
#undef POP
}

/* Walk the result: dict keys and TorchScript attributes become dotted names. */
static int flatten(vm_t *m, const val_t *v, int depth, val_t ***out, size_t *nout, char ***names);

static int flat_add(vm_t *m, const val_t *v, int depth, val_t ***out, size_t *nout, char ***names) {
    if (v->kind == V_TENSOR) {
        *out = xrealloc(*out, (*nout + 1) * sizeof **out);
        *names = xrealloc(*names, (*nout + 1) * sizeof **names);
        (*out)[*nout] = (val_t *)v;
        (*names)[*nout] = xstrdup(m->name.s ? m->name.s : "");
        (*nout)++;
        return 0;
    }
    if (v->kind == V_DICT || v->kind == V_OBJ) return flatten(m, v, depth + 1, out, nout, names);
    return 0; /* ints, strings, lists, None ...: not weights */
}

static int flatten(vm_t *m, const val_t *v, int depth, val_t ***out, size_t *nout, char ***names) {
    if (depth > FLAT_MAX_DEPTH)
        return err_set(m->e, EXIT_MODEL, "%s: %s: nesting deeper than %d (cyclic?)", m->tf->name, m->where,
                       FLAT_MAX_DEPTH);
    if (v->kind == V_OBJ) {
        if (v->n < 2) return 0;
        v = v->it[1];
        if (v->kind != V_DICT) return 0;
    }
    if (v->kind != V_DICT) return flat_add(m, v, depth, out, nout, names);
    size_t base = m->name.len;
    for (size_t k = 0; k + 1 < v->n; k += 2) {
        if (++m->visits > FLAT_MAX_VISITS)
            return err_set(m->e, EXIT_MODEL, "%s: %s: too many values", m->tf->name, m->where);
        const val_t *key = v->it[k];
        m->name.len = base;
        if (m->name.s) m->name.s[base] = 0;
        if (base) buf_put(&m->name, ".", 1);
        if (key->kind == V_STR) {
            if (memchr(key->s, 0, key->len)) continue;
            buf_put(&m->name, key->s, key->len);
        } else if (key->kind == V_INT)
            buf_printf(&m->name, "%" PRId64, key->i);
        else
            continue;
        int rc = flat_add(m, v->it[k + 1], depth, out, nout, names);
        if (rc) return rc;
    }
    m->name.len = base;
    if (m->name.s) m->name.s[base] = 0;
    return 0;
}

/* Run pkl and add its tensors to tf.  For each, `entry` stays -1 and the
 * storage key is remembered in keys[] (parallel to tf->t). */
static int pkl_load(tensorfile_t *tf, const char *where, const unsigned char *pkl, size_t n, char ***keys,
                    err_t *e) {
    vm_t m = {.tf = tf, .where = where, .e = e};
    val_t *root = NULL, **tv = NULL;
    char **names = NULL;
    size_t nt = 0;
    int rc = vm_run(&m, pkl, n, &root);
    if (!rc && root->kind != V_DICT && root->kind != V_OBJ)
        rc = err_set(e, EXIT_MODEL, "%s: %s holds a %s, not a state dict or a TorchScript module", tf->name,
                     where, kind_name(root->kind));
    if (!rc) rc = flatten(&m, root, 0, &tv, &nt, &names);
    *keys = xcalloc(nt + 1, sizeof **keys);
    for (size_t k = 0; k < nt && !rc; k++) {
        const val_t *v = tv[k];
        tensor_t *t = tf_add(tf, names[k]);
        t->info.dtype = v->storage->dtype;
        if ((rc = set_shape(tf, t, v->ndim, v->shape, e))) break;
        t->offset = v->offset;
        t->extent = v->extent;
        memcpy(t->stride, v->stride, sizeof t->stride);
        int64_t want = 1;
        for (int d = v->ndim - 1; d >= 0; d--) {
            if (v->shape[d] != 1 && v->stride[d] != want) t->contiguous = 0;
            want *= v->shape[d] ? v->shape[d] : 1;
        }
        (*keys)[tf->n - 1] = xstrdup(v->storage->s);
    }
    for (size_t k = 0; k < nt; k++) free(names[k]);
    free(names);
    free(tv);
    vm_free(&m);
    return rc;
}

static void free_keys(char **keys, size_t n) {
    if (!keys) return;
    for (size_t k = 0; k < n; k++) free(keys[k]);
    free(keys);
}

/* ------------------------------------------------------------------ zip */

static int zip_read_all(tensorfile_t *tf, zip_int64_t idx, const char *nm, size_t max, unsigned char **out,
                        size_t *len, err_t *e) {
    zip_stat_t zs;
    if (zip_stat_index(tf->zip, (zip_uint64_t)idx, 0, &zs) || !(zs.valid & ZIP_STAT_SIZE))
        return err_set(e, EXIT_MODEL, "%s: cannot stat zip entry %s", tf->name, nm);
    if (zs.size > max) return err_set(e, EXIT_MODEL, "%s: zip entry %s is too large", tf->name, nm);
    zip_file_t *zf = zip_fopen_index(tf->zip, (zip_uint64_t)idx, 0);
    if (!zf)
        return err_set(e, EXIT_MODEL, "%s: cannot open zip entry %s: %s", tf->name, nm,
                       zip_strerror(tf->zip));
    unsigned char *b = xmalloc((size_t)zs.size + 1);
    zip_int64_t got = zip_fread(zf, b, zs.size);
    int bad = got < 0 || (zip_uint64_t)got != zs.size;
    char why[128];
    snprintf(why, sizeof why, "%s", bad ? zip_file_strerror(zf) : "");
    zip_fclose(zf);
    if (bad) {
        free(b);
        return err_set(e, EXIT_MODEL, "%s: cannot read zip entry %s: %s", tf->name, nm, why);
    }
    *out = b;
    *len = (size_t)zs.size;
    return 0;
}

static int zip_parse(tensorfile_t *tf, err_t *e) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(tf->bytes, tf->size, 0, &ze);
    if (src) {
        tf->zip = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
        if (!tf->zip) zip_source_free(src);
    }
    if (!tf->zip) {
        int rc =
            err_set(e, EXIT_MODEL, "%s: not a readable zip archive: %s", tf->name, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    zip_error_fini(&ze);
    /* "<prefix>/data.pkl" at depth one (TorchScript also has code/ *.pkl deeper) */
    zip_int64_t ne = zip_get_num_entries(tf->zip, 0), pk = -1;
    const char *pkname = NULL;
    int torchscript = 0;
    for (zip_int64_t k = 0; k < ne; k++) {
        const char *nm = zip_get_name(tf->zip, (zip_uint64_t)k, ZIP_FL_ENC_RAW);
        if (!nm) continue;
        const char *sl = strchr(nm, '/');
        if (!sl) continue;
        if (!strcmp(sl, "/data.pkl") && pk < 0) pk = k, pkname = nm;
        if (!strcmp(sl, "/constants.pkl") || !strncmp(sl, "/code/", 6)) torchscript = 1;
        if (!strcmp(sl, "/byteorder")) {
            unsigned char *bo = NULL;
            size_t bl = 0;
            if (zip_read_all(tf, k, nm, 64, &bo, &bl, e)) return EXIT_MODEL;
            int big = bl >= 3 && !memcmp(bo, "big", 3);
            free(bo);
            if (big)
                return err_set(e, EXIT_MODEL, "%s: big-endian PyTorch checkpoint is not supported", tf->name);
        }
    }
    if (pk < 0)
        return err_set(e, EXIT_MODEL, "%s: zip archive has no <prefix>/data.pkl: not a PyTorch checkpoint",
                       tf->name);
    tf->format = torchscript ? "torchscript" : "pytorch-zip";
    size_t plen = (size_t)(strchr(pkname, '/') - pkname);
    char *prefix = xmalloc(plen + 1);
    memcpy(prefix, pkname, plen);
    prefix[plen] = 0;
    unsigned char *pkl = NULL;
    size_t n = 0;
    char **keys = NULL;
    int rc = zip_read_all(tf, pk, pkname, PKL_MAX_BYTES, &pkl, &n, e);
    if (!rc) rc = pkl_load(tf, pkname, pkl, n, &keys, e);
    free(pkl);
    /* resolve storages: the entry must exist and hold offset + extent elements */
    buf_t nm = {0};
    for (size_t k = 0; k < tf->n && !rc; k++) {
        tensor_t *t = &tf->t[k];
        nm.len = 0;
        buf_printf(&nm, "%s/data/%s", prefix, keys[k]);
        zip_int64_t idx = zip_name_locate(tf->zip, nm.s, ZIP_FL_ENC_RAW);
        zip_stat_t zs;
        uint64_t need, bound;
        if (idx < 0 || zip_stat_index(tf->zip, (zip_uint64_t)idx, 0, &zs) || !(zs.valid & ZIP_STAT_SIZE)) {
            rc = err_set(e, EXIT_MODEL, "%s: tensor '%s': storage entry %s is missing", tf->name,
                         t->info.name, nm.s);
            break;
        }
        if (!add_ok(t->offset, t->extent, &need) || !mul_ok(need, tf_dtype_size(t->info.dtype), &need) ||
            zs.size < need) {
            rc = err_set(e, EXIT_MODEL,
                         "%s: tensor '%s': storage entry %s has %" PRIu64 " bytes, needs %" PRIu64, tf->name,
                         t->info.name, nm.s, (uint64_t)zs.size, need);
            break;
        }
        /* a compressed entry cannot expand more than deflate's ~1032:1: refuse zip bombs early */
        if (zs.valid & ZIP_STAT_COMP_SIZE && zs.valid & ZIP_STAT_COMP_METHOD &&
            zs.comp_method != ZIP_CM_STORE &&
            (!mul_ok(zs.comp_size, 1100, &bound) || zs.size > bound + 4096)) {
            rc = err_set(e, EXIT_MODEL,
                         "%s: tensor '%s': storage entry %s claims an implausible compression ratio",
                         tf->name, t->info.name, nm.s);
            break;
        }
        t->entry = idx;
    }
    buf_free(&nm);
    free_keys(keys, tf->n);
    free(prefix);
    return rc;
}

/* ------------------------------------------------------------------ open */

static tensorfile_t *open_bytes(tensorfile_t *tf, err_t *e) {
    const unsigned char *b = tf->bytes;
    int rc;
    if (tf->size >= 4 && !memcmp(b, "PK\3\4", 4))
        rc = zip_parse(tf, e);
    else if (tf->size >= 9 && b[8] == '{')
        rc = st_parse(tf, e);
    else if (tf->size >= 2 && b[0] == 0x80 && b[1] <= 5)
        rc =
            err_set(e, EXIT_MODEL,
                    "%s: legacy PyTorch format (torch < 1.6, or _use_new_zipfile_serialization=False) is not "
                    "supported: re-save it with a current torch.save, or convert it to safetensors",
                    tf->name);
    else if (tf->size < 9)
        rc = err_set(e, EXIT_MODEL, "%s: truncated: %zu bytes is too short for a weight file", tf->name,
                     tf->size);
    else
        rc = err_set(e, EXIT_MODEL, "%s: not a safetensors file or a PyTorch zip checkpoint", tf->name);
    if (!rc) rc = tf_finish(tf, e);
    if (rc) {
        tf_close(tf);
        return NULL;
    }
    return tf;
}

tensorfile_t *tf_open_mem(const void *data, size_t size, const char *name, err_t *e) {
    tensorfile_t *tf = tf_new(name);
    tf->bytes = data;
    tf->size = size;
    return open_bytes(tf, e);
}

tensorfile_t *tf_open(const char *path, err_t *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(e, EXIT_MODEL, "%s: cannot open weight file: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        err_set(e, EXIT_MODEL, "%s: not a regular file", path);
        return NULL;
    }
    if (sb.st_size == 0) {
        close(fd);
        err_set(e, EXIT_MODEL, "%s: empty file", path);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) {
        err_set(e, EXIT_MODEL, "%s: cannot map weight file: %s", path, strerror(err));
        return NULL;
    }
    tensorfile_t *tf = tf_new(path);
    tf->map = map;
    tf->map_len = (size_t)sb.st_size;
    tf->bytes = map;
    tf->size = (size_t)sb.st_size;
    return open_bytes(tf, e);
}

tensorfile_t *tf_open_pickle(const void *pkl, size_t size, const char *name, err_t *e) {
    tensorfile_t *tf = tf_new(name);
    char **keys = NULL;
    tf->format = "pickle";
    int rc = pkl_load(tf, "data.pkl", pkl, size, &keys, e);
    free_keys(keys, tf->n);
    if (!rc) rc = tf_finish(tf, e);
    if (rc) {
        tf_close(tf);
        return NULL;
    }
    return tf;
}

/* ------------------------------------------------------------------ reading */

const float *tf_f32_view(const tensorfile_t *tf, const tf_info_t *ti) {
    const tensor_t *t = (const tensor_t *)ti;
    if (!t || t->info.dtype != TF_F32 || !t->data || !host_le() || ((uintptr_t)t->data & 3)) return NULL;
    return (const float *)(const void *)t->data;
}

static float conv1(tf_dtype_t d, const unsigned char *p) {
    uint16_t h;
    switch (d) {
    case TF_F32: {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    case TF_F16:
        memcpy(&h, p, 2);
        return tf_f16_to_f32(h);
    case TF_BF16:
        memcpy(&h, p, 2);
        return tf_bf16_to_f32(h);
    default: {
        double x;
        memcpy(&x, p, 8);
        return (float)x;
    }
    }
}

/* Convert n contiguous elements. */
static void convert(tf_dtype_t d, const unsigned char *src, float *dst, size_t n) {
    if (d == TF_F32)
        memcpy(dst, src, n * 4);
    else if (d == TF_F16)
        for (size_t k = 0; k < n; k++) dst[k] = tf_f16_to_f32((uint16_t)(src[2 * k] | src[2 * k + 1] << 8));
    else if (d == TF_BF16)
        for (size_t k = 0; k < n; k++) dst[k] = tf_bf16_to_f32((uint16_t)(src[2 * k] | src[2 * k + 1] << 8));
    else
        for (size_t k = 0; k < n; k++) dst[k] = conv1(d, src + 8 * k);
}

/* Bytes [off, off+len) of zip entry idx into buf. */
static int zip_range(tensorfile_t *tf, const tensor_t *t, uint64_t off, unsigned char *buf, size_t len,
                     err_t *e) {
    zip_file_t *zf = zip_fopen_index(tf->zip, (zip_uint64_t)t->entry, 0);
    if (!zf)
        return err_set(e, EXIT_MODEL, "%s: tensor '%s': cannot open its storage: %s", tf->name, t->info.name,
                       zip_strerror(tf->zip));
    int rc = 0;
    if (off && zip_fseek(zf, (zip_int64_t)off, SEEK_SET) != 0) {
        /* compressed entries cannot seek: read and drop */
        unsigned char tmp[65536];
        for (uint64_t left = off; left && !rc;) {
            zip_int64_t g = zip_fread(zf, tmp, left < sizeof tmp ? left : sizeof tmp);
            if (g <= 0)
                rc = 1;
            else
                left -= (uint64_t)g;
        }
    }
    for (size_t got = 0; got < len && !rc;) {
        zip_int64_t g = zip_fread(zf, buf + got, len - got);
        if (g <= 0)
            rc = 1;
        else
            got += (size_t)g;
    }
    if (rc)
        rc = err_set(e, EXIT_MODEL, "%s: tensor '%s': cannot read its storage: %s", tf->name, t->info.name,
                     zip_file_strerror(zf));
    zip_fclose(zf);
    return rc;
}

int tf_read_f32(tensorfile_t *tf, const tf_info_t *ti, float *dst, err_t *e) {
    tensor_t *t = (tensor_t *)ti;
    tf_dtype_t d = t->info.dtype;
    if (d != TF_F32 && d != TF_F16 && d != TF_BF16 && d != TF_F64)
        return err_set(e, EXIT_MODEL,
                       "%s: tensor '%s' has dtype %s; only F32, F16, BF16 and F64 can be read as F32",
                       tf->name, t->info.name, tf_dtype_name(d));
    if (!host_le())
        return err_set(e, EXIT_MODEL, "%s: reading on a big-endian host is not supported", tf->name);
    if (!t->info.numel) return 0;
    size_t es = tf_dtype_size(d);
    const unsigned char *src = t->data;
    unsigned char *tmp = NULL;
    if (!src) {
        if (t->entry < 0 || !tf->zip)
            return err_set(e, EXIT_MODEL, "%s: tensor '%s' has no data", tf->name, t->info.name);
        size_t len = (size_t)t->extent * es;
        if (t->contiguous && d == TF_F32)
            return zip_range(tf, t, t->offset * es, (unsigned char *)dst, len, e);
        tmp = malloc(len ? len : 1);
        if (!tmp)
            return err_set(e, EXIT_INTERNAL, "out of memory reading '%s' (%zu bytes)", t->info.name, len);
        if (zip_range(tf, t, t->offset * es, tmp, len, e)) {
            free(tmp);
            return EXIT_MODEL;
        }
        src = tmp;
    }
    if (t->contiguous)
        convert(d, src, dst, t->info.numel);
    else { /* gather a strided view, last dimension fastest */
        int nd = t->info.ndim;
        int64_t idx[TF_MAX_DIMS] = {0};
        for (size_t k = 0; k < t->info.numel; k++) {
            uint64_t lin = 0;
            for (int j = 0; j < nd; j++) lin += (uint64_t)idx[j] * (uint64_t)t->stride[j];
            dst[k] = conv1(d, src + lin * es);
            for (int j = nd - 1; j >= 0; j--) {
                if (++idx[j] < t->info.shape[j]) break;
                idx[j] = 0;
            }
        }
    }
    free(tmp);
    return 0;
}

/* ------------------------------------------------------------------ writing */

uint64_t tf_header_entry(buf_t *h, const char *name, tf_dtype_t dt, int nd, const int *shape, uint64_t off) {
    uint64_t n = tf_dtype_size(dt);
    buf_puts(h, ",");
    buf_jstr(h, name);
    buf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", tf_dtype_name(dt));
    for (int d = 0; d < nd; d++) {
        buf_printf(h, "%s%d", d ? "," : "", shape[d]);
        n *= (uint64_t)shape[d];
    }
    buf_printf(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + n);
    return n;
}

uint64_t tf_header_f32(buf_t *h, const char *name, int nd, const int *shape, uint64_t off) {
    return tf_header_entry(h, name, TF_F32, nd, shape, off);
}

void tf_write_header(FILE *fp, buf_t *h) {
    buf_puts(h, "}");
    while (h->len % 8) buf_puts(h, " ");
    unsigned char len[8];
    for (int k = 0; k < 8; k++) len[k] = (unsigned char)((uint64_t)h->len >> (8 * k));
    fwrite(len, 1, 8, fp);
    fwrite(h->s, 1, h->len, fp);
}
