/* chamfer.h - the structure distance between two drawings that sketch-score
 * reports and summarize shows (docs/evaluator.md): the mean symmetric chamfer
 * distance, in the pixels of the frame xf maps both drawings into.
 *
 * Each drawing's polylines are sampled at most 1 px apart (in the frame);
 * the directed distance from A to B is the mean over A's samples of the
 * distance to B's nearest segment (or lone point); the result is the mean of
 * the two directions.  Non-finite points are skipped. */
#ifndef CHAMFER_H
#define CHAMFER_H
#include "raster.h"
#include "sketch.h"

/* NAN when either drawing has no points. */
double drawing_chamfer(const drawing_t *a, const drawing_t *b, const xform_t *xf);

#endif
