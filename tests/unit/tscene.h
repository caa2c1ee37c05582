/* tscene.h - a fixed-capacity renderer scene for unit tests: the arrays of a
 * scene_t (plugin.h) held in one struct, so a test fills npts, xy, width and
 * opacity and calls sc_bind.  The includer defines MAXS (strokes) and MAXP
 * (points) first; W and H are for tests that carry the canvas with the scene.
 */
#ifndef TSCENE_H
#define TSCENE_H
#include "plugin.h"

typedef struct {
    int W, H, ns, npts[MAXS], off[MAXS];
    float xy[2 * MAXP], width[MAXS], opacity[MAXS];
    scene_t sc;
} sc_t;

/* Consecutive offsets from npts, and the scene_t view of the arrays. */
static inline void sc_bind(sc_t *s) {
    int o = 0;
    for (int k = 0; k < s->ns; k++) s->off[k] = o, o += s->npts[k];
    s->sc = (scene_t){s->ns, s->npts, s->off, s->xy, s->width, s->opacity};
}

/* Points in the scene (after sc_bind). */
static inline int sc_total(const sc_t *s) { return s->ns ? s->off[s->ns - 1] + s->npts[s->ns - 1] : 0; }
#endif
