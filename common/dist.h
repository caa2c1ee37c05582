/* dist.h - data-parallel training over MPI: the few collective operations
 * the trainers need, and serial stand-ins when there is no MPI.
 *
 * The trainers (clip-train, unet-train, sketch-score --train) are
 * data-parallel: every rank holds the whole model, the global batch of a step
 * (chosen from (--seed, step) alone, as in a one-process run) is cut into
 * equal contiguous slices, rank r renders and runs forward/backward on slice
 * r, and the gradients meet in ONE sum-allreduce over the flat gradient block
 * (params.h) per step, after which every rank takes the same AdamW step.
 * Where a model couples the rows of a batch the slices are joined exactly as
 * one process would see them: CLIP's InfoNCE all-gathers the unit embeddings,
 * batch norm (the evaluator's, the U-Net's, the PatchGAN's) all-reduces its
 * per-channel sums (dist_bn_forward/_backward; docs/scale-out.md).
 * Rank 0 alone writes checkpoints, logs and the model; every rank reads the
 * checkpoint on --resume, so a run resumes with any number of ranks.
 *
 * Built two ways from this one file: compiled normally (no HAVE_MPI) every
 * function is the one-process identity (rank 0 of 1) and the tools in bin/ use
 * it; compiled by mpicc with -DHAVE_MPI it is linked, ahead of the library,
 * into bin/<trainer>-mpi (Makefile).  MPI is initialised by dist_init after
 * the options are parsed, so --help and usage errors never start MPI.
 *
 * INVCLIP_DIST_STATS=1: rank 0 reports at dist_finalize the gradient
 * allreduces' count, size and mean time, each preceded by a barrier timed
 * apart (waiting for the slowest rank is not transfer).
 *
 * Faults: errors from MPI are returned (MPI_ERRORS_RETURN), not fatal, so a
 * collective that fails because a peer died ends the run with the tool's
 * message; and a SIGTERM/SIGINT/SIGHUP (mpirun sends SIGTERM to every rank
 * when one dies or its host is lost) prints the note set by dist_set_note --
 * which the trainers keep pointing at the last checkpoint written -- and
 * exits with EXIT_IO.  Checkpoints are atomic (util.h), so the last one is
 * always whole.
 */
#ifndef DIST_H
#define DIST_H
#include <stddef.h>
#include "util.h"

typedef struct {
    int rank, size; /* 0 and 1 without MPI */
    int mpi;        /* 1: MPI is initialised */
} dist_t;

/* Initialise MPI when built with it (rank and size from MPI_COMM_WORLD),
 * else rank 0 of 1.  Installs the signal notes.  EXIT_INTERNAL on failure. */
int dist_init(dist_t *d, int *argc, char ***argv, err_t *e);
/* MPI_Finalize (nothing without MPI). */
void dist_finalize(dist_t *d);
/* "Open MPI v4.1.4" (the library's version string) or "none". */
const char *dist_impl(void);
/* In-place sum over the ranks of n floats / doubles.  EXIT_IO when a peer is
 * lost. */
int dist_sum_f(const dist_t *d, float *x, size_t n, err_t *e);
int dist_sum_d(const dist_t *d, double *x, size_t n, err_t *e);
/* out (size*n) = every rank's in (n), in rank order. */
int dist_gather_f(const dist_t *d, const float *in, size_t n, float *out, err_t *e);
/* Training-mode batch norm over the global batch (the data-parallel stand-in
 * for nn/norm2d.h's batchnorm2d_forward / _backward, same arguments and
 * conventions: (N,C,HW) planes, w/b/run_* may be NULL, the backward ADDS
 * into dinp/dw/db, any of which may be NULL).  The statistics are those of
 * every rank's N rows (all ranks have the same N): the per-channel sum, then
 * the squared deviations from the mean, summed in double as the kernel sums
 * them and all-reduced; the running statistics get the same update on every
 * rank.  The backward all-reduces sum(dy) and sum(dy*xhat) per channel; dw
 * and db receive this rank's part (the gradient allreduce adds the rest).
 * scratch: 2C doubles.  EXIT_IO when a peer is lost. */
int dist_bn_forward(const dist_t *d, float *out, float *mean, float *rstd, const float *inp, const float *w,
                    const float *b, float *run_mean, float *run_var, int N, int C, int HW, float eps, float momentum,
                    double *scratch, err_t *e);
int dist_bn_backward(const dist_t *d, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *mean, const float *rstd, const float *w, int N, int C, int HW, double *scratch,
                     err_t *e);
/* The message printed (after "<prog>: rank R: ") when a signal ends the run:
 * e.g. "the last checkpoint, DIR/checkpoint.safetensors (step 20), is intact:
 * rerun with --resume".  Copied (at most 1000 bytes). */
void dist_set_note(const char *note);
/* The trainers' note after each checkpoint: "the last checkpoint, PATH (step N), is intact: rerun with --resume". */
void dist_note_checkpoint(const char *path, long long step);
/* End every rank now (MPI_Abort) with code; exit(code) without MPI. */
void dist_abort(const dist_t *d, int code) __attribute__((noreturn));
#endif
