/* dist.c - data-parallel collectives over MPI, or their one-process identity
 * (see dist.h).  HAVE_MPI is defined only when mpicc builds this file for the
 * bin/<trainer>-mpi programs. */
#include "dist.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_MPI
#include <mpi.h>
#endif

static char note[1024] = "no checkpoint has been written yet";

void dist_set_note(const char *s) {
    /* signal handlers read note: keep it a complete string at every moment
     * that matters (a torn message is the worst case, not a crash) */
    size_t n = strlen(s);
    if (n > sizeof note - 1) n = sizeof note - 1;
    memcpy(note, s, n);
    note[n] = 0;
}

void dist_note_checkpoint(const char *path, long long step) {
    char s[1024];
    snprintf(s, sizeof s, "the last checkpoint, %s (step %lld), is intact: rerun with --resume", path, step);
    dist_set_note(s);
}

int dist_bn_forward(const dist_t *d, float *out, float *mean, float *rstd, const float *inp, const float *w,
                    const float *b, float *run_mean, float *run_var, int N, int C, int HW, float eps, float momentum,
                    double *scratch, err_t *e) {
    double *s = scratch, *v = scratch + C, M = (double)N * HW * d->size;
    for (int k = 0; k < C; k++) {
        double t = 0;
        for (int i = 0; i < N; i++) {
            const float *p = inp + ((size_t)i * C + k) * HW;
            for (int j = 0; j < HW; j++) t += p[j];
        }
        s[k] = t;
    }
    int rc = dist_sum_d(d, s, (size_t)C, e);
    if (rc) return rc;
    for (int k = 0; k < C; k++) {
        double t = 0, m = s[k] / M;
        for (int i = 0; i < N; i++) {
            const float *p = inp + ((size_t)i * C + k) * HW;
            for (int j = 0; j < HW; j++) t += (p[j] - m) * (p[j] - m);
        }
        v[k] = t;
    }
    if ((rc = dist_sum_d(d, v, (size_t)C, e))) return rc;
    for (int k = 0; k < C; k++) {
        double m = s[k] / M, r = 1.0 / sqrt(v[k] / M + eps);
        mean[k] = (float)m;
        rstd[k] = (float)r;
        if (run_mean) run_mean[k] = (float)((1.0 - momentum) * run_mean[k] + momentum * m);
        if (run_var) run_var[k] = (float)((1.0 - momentum) * run_var[k] + momentum * v[k] / (M - 1.0));
        double a = r * (w ? w[k] : 1.0), sh = (b ? b[k] : 0.0) - m * a;
        for (int i = 0; i < N; i++) {
            const float *p = inp + ((size_t)i * C + k) * HW;
            float *o = out + ((size_t)i * C + k) * HW;
            for (int j = 0; j < HW; j++) o[j] = (float)a * p[j] + (float)sh;
        }
    }
    return 0;
}

int dist_bn_backward(const dist_t *d, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *mean, const float *rstd, const float *w, int N, int C, int HW, double *scratch,
                     err_t *e) {
    double *s = scratch, M = (double)N * HW * d->size; /* s: sum dy (C), sum dy*xhat (C) */
    for (int k = 0; k < C; k++) {
        double sd = 0, sx = 0, m = mean[k], r = rstd[k];
        for (int i = 0; i < N; i++) {
            const float *dy = dout + ((size_t)i * C + k) * HW, *x = inp + ((size_t)i * C + k) * HW;
            for (int j = 0; j < HW; j++) sd += dy[j], sx += dy[j] * (x[j] - m) * r;
        }
        if (db) db[k] += (float)sd;
        if (dw) dw[k] += (float)sx;
        s[k] = sd, s[C + k] = sx;
    }
    if (!dinp) return 0;
    int rc = dist_sum_d(d, s, 2 * (size_t)C, e);
    if (rc) return rc;
    for (int k = 0; k < C; k++) {
        double m = mean[k], r = rstd[k], a = (w ? w[k] : 1.0) * r, md = s[k] / M, mx = s[C + k] / M;
        for (int i = 0; i < N; i++) {
            const float *dy = dout + ((size_t)i * C + k) * HW, *x = inp + ((size_t)i * C + k) * HW;
            float *dx = dinp + ((size_t)i * C + k) * HW;
            for (int j = 0; j < HW; j++) dx[j] += (float)(a * (dy[j] - md - (x[j] - m) * r * mx));
        }
    }
    return 0;
}

#ifdef HAVE_MPI
static char prefix[160];

static void on_signal(int sig) {
    static const char mid[] = "stopped by a signal (mpirun ends every rank when one dies or its host is lost); ";
    const char *name = sig == SIGTERM ? "SIGTERM: " : sig == SIGINT ? "SIGINT: " : sig == SIGHUP ? "SIGHUP: " : "";
    ssize_t r = write(2, prefix, strlen(prefix));
    r = write(2, name, strlen(name));
    r = write(2, mid, sizeof mid - 1);
    r = write(2, note, strlen(note));
    r = write(2, "\n", 1);
    (void)r;
    _exit(EXIT_IO);
}

static void install_signals(const dist_t *d) {
    snprintf(prefix, sizeof prefix, "%s: rank %d of %d: ", progname, d->rank, d->size);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* INVCLIP_DIST_STATS=1: rank 0 prints at dist_finalize how many float
 * allreduces ran, their size and mean time (bench/mpi.sh reads it) */
static double st_time, st_wait;
static int st_on = -1; /* -1: not read yet */
static long st_calls;
static size_t st_floats;

static int mpi_fail(int rc, const char *what, err_t *e) {
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;
    s[0] = 0;
    MPI_Error_string(rc, s, &n);
    return err_set(e, EXIT_IO, "%s failed: %s (a rank died or its host was lost?)", what, s);
}

int dist_init(dist_t *d, int *argc, char ***argv, err_t *e) {
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) return err_set(e, EXIT_INTERNAL, "MPI_Init failed (%d)", rc);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->mpi = 1;
    if (d->rank > 0) dist_set_note("rank 0 writes the checkpoints: see its message");
    install_signals(d);
    return 0;
}

void dist_finalize(dist_t *d) {
    if (d->mpi && d->rank == 0 && st_on > 0 && st_calls)
        fprintf(stderr,
                "%s: dist: %ld float allreduces over %d ranks, %.3f MB each on average, %.3f ms each "
                "(+ %.3f ms waiting for the slowest rank)\n",
                progname, st_calls, d->size, 4.0 * (double)st_floats / st_calls / 1e6, 1e3 * st_time / st_calls,
                1e3 * st_wait / st_calls);
    if (d->mpi) MPI_Finalize();
    d->mpi = 0;
}

const char *dist_impl(void) {
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    MPI_Get_library_version(v, &n);
    char *nl = strpbrk(v, ",\n");
    if (nl) *nl = 0;
    return v;
}

/* MPI counts are int: large blocks go in pieces of at most 2^30 elements */
#define CHUNK ((size_t)1 << 30)

int dist_sum_f(const dist_t *d, float *x, size_t n, err_t *e) {
    if (d->size < 2) return 0;
    if (st_on < 0) {
        const char *s = getenv("INVCLIP_DIST_STATS");
        st_on = s && *s && *s != '0';
    }
    double t0 = MPI_Wtime();
    if (st_on) { /* with stats: a barrier first, so waiting for the slowest rank is not counted as transfer */
        MPI_Barrier(MPI_COMM_WORLD);
        double t1 = MPI_Wtime();
        st_wait += t1 - t0;
        t0 = t1;
    }
    st_calls++, st_floats += n;
    for (size_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, x + o, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "the gradient allreduce", e);
    }
    st_time += MPI_Wtime() - t0;
    return 0;
}

int dist_sum_d(const dist_t *d, double *x, size_t n, err_t *e) {
    if (d->size < 2) return 0;
    for (size_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, x + o, k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "an allreduce", e);
    }
    return 0;
}

int dist_gather_f(const dist_t *d, const float *in, size_t n, float *out, err_t *e) {
    if (d->size < 2) {
        if (out != in) memmove(out, in, n * sizeof *in);
        return 0;
    }
    if (n > (size_t)1 << 30) return err_set(e, EXIT_INTERNAL, "dist_gather_f: %zu floats a rank is too many", n);
    int rc = MPI_Allgather(in, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "the embedding all-gather", e);
}

void dist_abort(const dist_t *d, int code) {
    if (d && d->mpi && d->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
#else
int dist_init(dist_t *d, int *argc, char ***argv, err_t *e) {
    (void)argc, (void)argv, (void)e;
    d->rank = 0, d->size = 1, d->mpi = 0;
    return 0;
}
void dist_finalize(dist_t *d) { (void)d; }
const char *dist_impl(void) { return "none"; }
int dist_sum_f(const dist_t *d, float *x, size_t n, err_t *e) { return (void)d, (void)x, (void)n, (void)e, 0; }
int dist_sum_d(const dist_t *d, double *x, size_t n, err_t *e) { return (void)d, (void)x, (void)n, (void)e, 0; }
int dist_gather_f(const dist_t *d, const float *in, size_t n, float *out, err_t *e) {
    (void)d, (void)e;
    if (out != in) memmove(out, in, n * sizeof *in);
    return 0;
}
void dist_abort(const dist_t *d, int code) {
    (void)d;
    exit(code);
}
#endif
