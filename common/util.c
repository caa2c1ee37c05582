/* util.c - see util.h. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise */
#include "util.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *progname = "invclip";

void util_init(const char *argv0) {
    const char *s = argv0 ? strrchr(argv0, '/') : NULL;
    progname = s ? s + 1 : (argv0 ? argv0 : progname);
}

/* Formats into a local buffer first, so an argument may be e->msg itself. */
int err_set(err_t *e, int code, const char *fmt, ...) {
    if (e) {
        char m[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m, sizeof m, fmt, ap);
        va_end(ap);
        memcpy(e->msg, m, sizeof m);
        e->code = code;
    }
    return code;
}

int err_prefix(err_t *e, const char *fmt, ...) {
    if (!e) return 0;
    char m[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    size_t k = (size_t)n < sizeof m - 1 ? (size_t)n : sizeof m - 1;
    for (const char *q = ": "; *q && k + 1 < sizeof m; q++) m[k++] = *q;
    size_t l = strnlen(e->msg, sizeof e->msg - 1);
    if (l > sizeof m - 1 - k) l = sizeof m - 1 - k; /* the callee's message loses its tail, never its head */
    memcpy(m + k, e->msg, l);
    m[k + l] = 0;
    memcpy(e->msg, m, sizeof m);
    return e->code;
}

/* Temporary files of atomic outputs still open (afile_open registers them,
 * commit/abort remove them): die() unlinks them, so an error exit leaves
 * no PATH.tmp.* behind.  Only a signal (kill -9) can. */
static afile_t *afile_live[16];

static void afile_unlink_live(void) {
    for (int i = 0; i < 16; i++)
        if (afile_live[i] && afile_live[i]->tmp) unlink(afile_live[i]->tmp);
}

void die(int code, const char *fmt, ...) {
    va_list ap;
    afile_unlink_live();
    fflush(stdout);
    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    /* Flush what was written (nothing already written is lost), then leave
     * without atexit handlers: an error exit does not unwind, and the
     * sanitizer build's leak check is for runs that end normally. */
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}

void die_err(const err_t *e) { die(e->code ? e->code : EXIT_INTERNAL, "%s", e->msg); }

void warn(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die(EXIT_INTERNAL, "out of memory (%zu bytes)", n);
    return p;
}
void *xaligned(size_t align, size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, align, n ? n : 1)) die(EXIT_INTERNAL, "out of memory (%zu bytes)", n);
    return p;
}
void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die(EXIT_INTERNAL, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}
/* [*a, *b): the part of [p, p+bytes) aligned to `align` (a power of two) at
 * both ends; empty (*a >= *b) when there is none */
static void aligned_interior(const void *p, size_t bytes, uintptr_t align, uintptr_t *a, uintptr_t *b) {
    *a = ((uintptr_t)p + align - 1) & ~(align - 1);
    *b = ((uintptr_t)p + bytes) & ~(align - 1);
}

void mem_hugepage(void *p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    uintptr_t a, b;
    aligned_interior(p, bytes, (uintptr_t)2 << 20, &a, &b);
    if (p && b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

void mem_prefault(void *p, size_t bytes) {
#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
    long pg = sysconf(_SC_PAGESIZE);
    if (!p || pg <= 0 || bytes < 2 * (size_t)pg) return;
    uintptr_t a, b;
    aligned_interior(p, bytes, (uintptr_t)pg, &a, &b);
    if (b <= a) return;
    mem_hugepage(p, bytes);
    (void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#else
    (void)p, (void)bytes;
#endif
}
void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die(EXIT_INTERNAL, "out of memory (%zu bytes)", n);
    return p;
}
char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

void close_stdout(void) {
    if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
        die(EXIT_IO, "write error on standard output: %s", strerror(errno ? errno : EIO));
}

void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
}
void buf_put(buf_t *b, const void *p, size_t n) {
    buf_reserve(b, n);
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}
void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }
void buf_printf(buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
/* Digits of v (< 10^15) with `nd` of them after a decimal point, trailing
 * fractional zeros dropped; into the end of tmp, returns the start. */
static char *fmt_fixed(char *end, unsigned long long v, int nd, int neg) {
    char *p = end;
    for (; nd > 0 && v % 10 == 0; nd--) v /= 10;
    for (int i = 0; i < nd; i++, v /= 10) *--p = (char)('0' + v % 10);
    if (nd) *--p = '.';
    do *--p = (char)('0' + v % 10);
    while (v /= 10);
    if (neg) *--p = '-';
    return p;
}

void buf_num(buf_t *b, double x, int dec) {
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
    char tmp[64];
    if (!isfinite(x)) { buf_puts(b, "null"); return; }
    /* Fast paths, printf-free (its exact decimal conversion dominated tools
     * writing many coordinates), giving the same text as the general path:
     * integers below 10^15, and x*10^dec below 10^12 (so its rounding error is
     * far below the 1e-3 guard) unless it lies near a rounding tie. */
    if (x == floor(x) && fabs(x) < 1e15) {
        char *p = fmt_fixed(tmp + sizeof tmp, (unsigned long long)fabs(x), 0, x < 0);
        buf_put(b, p, (size_t)(tmp + sizeof tmp - p));
        return;
    }
    if (dec >= 0 && dec <= 6) {
        double m = x * p10[dec];
        if (fabs(m) < 1e12 && fabs(fabs(m - trunc(m)) - 0.5) >= 1e-3) {
            long long v = (long long)nearbyint(m);
            char *p = fmt_fixed(tmp + sizeof tmp, (unsigned long long)(v < 0 ? -v : v), dec, v < 0);
            buf_put(b, p, (size_t)(tmp + sizeof tmp - p));
            return;
        }
    }
    if (fabs(x) >= 1e15) {
        snprintf(tmp, sizeof tmp, "%.17g", x); /* exact round trip, bounded length */
    } else {
        snprintf(tmp, sizeof tmp, "%.*f", dec, x);
        char *dot = strchr(tmp, '.');
        if (dot) {
            char *end = tmp + strlen(tmp) - 1;
            while (end > dot && *end == '0') *end-- = 0;
            if (end == dot) *end = 0;
        }
        if (!strcmp(tmp, "-0")) strcpy(tmp, "0");
    }
    buf_puts(b, tmp);
}
/* Length of the valid UTF-8 sequence at p (NUL-terminated), or 0. */
static size_t utf8_seq(const unsigned char *p) {
    /* the shortest prefix utf8_valid accepts; never reads past the terminator */
    for (size_t len = 1; len <= 4 && p[len - 1]; len++)
        if (utf8_valid((const char *)p, len, NULL)) return len;
    return 0;
}

void buf_jstr(buf_t *b, const char *s) {
    buf_reserve(b, strlen(s) + 2);
    buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20) buf_printf(b, "\\u%04x", *p);
            else if (*p < 0x80) buf_put(b, p, 1);
            else {
                size_t len = utf8_seq(p);
                if (len) { buf_put(b, p, len); p += len - 1; }
                else buf_puts(b, "\\ufffd");
            }
        }
    }
    buf_put(b, "\"", 1);
}

char *utf8_fix(const char *str) {
    buf_t b = {0};
    buf_reserve(&b, strlen(str));
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        size_t len = *p < 0x80 ? 1 : utf8_seq(p);
        if (len) { buf_put(&b, p, len); p += len - 1; }
        else buf_puts(&b, "\xEF\xBF\xBD"); /* U+FFFD */
    }
    return b.s;
}
void buf_free(buf_t *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

static void afile_track(afile_t *a, int on) {
    for (int i = 0; i < 16; i++)
        if (on ? !afile_live[i] : afile_live[i] == a) {
            afile_live[i] = on ? a : NULL;
            return;
        }
}

/* The temporary is created with O_CREAT|O_EXCL|O_NOFOLLOW: a file or symlink
 * already at that name is never opened (a planted link cannot redirect the
 * write); the name gets a new suffix and we try again. */
int afile_open(afile_t *a, const char *path, err_t *e) {
    size_t n = strlen(path) + 48;
    a->path = xstrdup(path);
    a->tmp = xmalloc(n);
    a->fp = NULL;
    int fd = -1, err = 0;
    uint64_t salt = hash_str(path) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)(now_sec() * 1e9);
    for (int tries = 0; tries < 64 && fd < 0; tries++) {
        salt = salt * 6364136223846793005ull + 1442695040888963407ull;
        snprintf(a->tmp, n, "%s.tmp.%ld.%06x", path, (long)getpid(), (unsigned)(salt >> 40));
        fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        err = errno;
        if (fd < 0 && err != EEXIST && err != ELOOP) break;
    }
    if (fd >= 0 && !(a->fp = fdopen(fd, "wb"))) {
        err = errno;
        close(fd);
        unlink(a->tmp);
    }
    if (!a->fp) {
        int c = err_set(e, EXIT_IO, "%s: cannot create: %s", path, strerror(err));
        free(a->path); free(a->tmp);
        a->path = a->tmp = NULL;
        return c;
    }
    afile_track(a, 1);
    return 0;
}
int afile_commit(afile_t *a, err_t *e) {
    afile_track(a, 0);
    int bad = ferror(a->fp);
    if (fclose(a->fp) != 0) bad = 1;
    a->fp = NULL;
    int rc = 0;
    if (bad) {
        rc = err_set(e, EXIT_IO, "%s: write error: %s", a->path, strerror(errno ? errno : EIO));
        unlink(a->tmp);
    } else if (rename(a->tmp, a->path) != 0) {
        rc = err_set(e, EXIT_IO, "%s: cannot rename into place: %s", a->path, strerror(errno));
        unlink(a->tmp);
    }
    free(a->path); free(a->tmp);
    a->path = a->tmp = NULL;
    return rc;
}
void afile_abort(afile_t *a) {
    afile_track(a, 0);
    if (a->fp) fclose(a->fp);
    if (a->tmp) unlink(a->tmp);
    free(a->path); free(a->tmp);
    a->fp = NULL;
    a->path = a->tmp = NULL;
}

char *path_join(const char *dir, const char *name) {
    buf_t b = {0};
    buf_printf(&b, "%s/%s", dir, name);
    return b.s;
}

void log_append(const char *path, const char *line) {
    FILE *f = fopen(path, "a");
    if (!f) die(EXIT_IO, "%s: cannot open: %s", path, strerror(errno));
    fputs(line, f);
    if (fclose(f)) die(EXIT_IO, "%s: write error", path);
}

int mkdir_p(const char *dir, err_t *e) {
    char *d = xstrdup(dir);
    for (char *p = d + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(d, 0777) != 0 && errno != EEXIST) {
                int rc = err_set(e, EXIT_IO, "%s: cannot create directory: %s", d, strerror(errno));
                free(d);
                return rc;
            }
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    int ok = stat(d, &st) == 0 && S_ISDIR(st.st_mode);
    free(d);
    return ok ? 0 : err_set(e, EXIT_IO, "%s: not a directory", dir);
}

double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress_t *p, const char *what, long long total, int force) {
    memset(p, 0, sizeof *p);
    p->on = force || isatty(2);
    p->what = what;
    p->total = total;
    p->t0 = p->tlast = now_sec();
}
void progress_tick(progress_t *p, long long n) {
    p->n = n;
    if (!p->on) return;
    double t = now_sec();
    if (t - p->tlast < 0.2) return;
    p->tlast = t;
    double rate = n / (t - p->t0 + 1e-9);
    if (p->total > 0)
        fprintf(stderr, "\r%s: %lld/%lld %s (%.0f/s)  ", progname, n, p->total, p->what, rate);
    else
        fprintf(stderr, "\r%s: %lld %s (%.0f/s)  ", progname, n, p->what, rate);
}
void progress_done(progress_t *p) {
    if (!p->on) return;
    double t = now_sec() - p->t0;
    fprintf(stderr, "\r%s: %lld %s in %.2fs (%.0f/s)  \n", progname, p->n, p->what, t,
            p->n / (t + 1e-9));
}

int utf8_valid(const char *str, size_t n, size_t *bad) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* ASCII runs 8 bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        unsigned min, cp;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; min = 0x10000; }
        else goto fail;
        if (i + len > n) goto fail;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) goto fail;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto fail;
        i += len;
    }
    return 1;
fail:
    if (bad) *bad = i;
    return 0;
}

#ifndef INVCLIP_DATA_DIR
#define INVCLIP_DATA_DIR "data"
#endif

char *data_path(const char *rel) {
    char exe[4096];
    const char *env = getenv("INVCLIP_DATA");
    const char *dirs[3] = {env && *env ? env : NULL, INVCLIP_DATA_DIR, NULL};
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 32);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            strcpy(slash, "/../share/invclip/data");
            dirs[2] = exe;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (!dirs[i]) continue;
        size_t n = strlen(dirs[i]) + strlen(rel) + 2;
        char *p = xmalloc(n);
        snprintf(p, n, "%s/%s", dirs[i], rel);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) return p;
        free(p);
    }
    return NULL;
}

uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
    return h;
}

static int strset_put(char **slot, size_t cap, char *s) {
    for (size_t i = hash_str(s) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (!slot[i]) { slot[i] = s; return 1; }
        if (!strcmp(slot[i], s)) return 0;
    }
}

int strset_add(strset_t *t, const char *s) {
    if (2 * (t->n + 1) > t->cap) { /* keep the load under 1/2 */
        size_t cap = t->cap ? 2 * t->cap : 64;
        char **slot = xcalloc(cap, sizeof *slot);
        for (size_t i = 0; i < t->cap; i++)
            if (t->slot[i]) strset_put(slot, cap, t->slot[i]);
        free(t->slot);
        t->slot = slot;
        t->cap = cap;
    }
    for (size_t i = hash_str(s) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slot[i]) { t->slot[i] = xstrdup(s); t->n++; return 1; }
        if (!strcmp(t->slot[i], s)) return 0;
    }
}

int strset_has(const strset_t *t, const char *s) {
    if (!t->cap) return 0;
    for (size_t i = hash_str(s) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slot[i]) return 0;
        if (!strcmp(t->slot[i], s)) return 1;
    }
}

void strset_free(strset_t *t) {
    for (size_t i = 0; i < t->cap; i++) free(t->slot[i]);
    free(t->slot);
    memset(t, 0, sizeof *t);
}
