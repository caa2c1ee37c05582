/* rng.h - the project's one random number generator.
 *
 * xoshiro256** seeded through splitmix64: integer-only state updates, so the
 * uint64 stream and the uniform doubles (top 53 bits) are bit-identical on
 * every machine and compiler.  rng_normal uses Box-Muller with libm's log, sqrt
 * and cos; on glibc these are the same everywhere we run.  Tools derive one
 * generator per record from (--seed, key_id) with rng_seed2, so a record's
 * random draws do not depend on its position in the stream (sharding a stream
 * with GNU parallel gives the same output as one process).
 */
#ifndef RNG_H
#define RNG_H
#include <stdint.h>

typedef struct { uint64_t s[4]; } rng_t;

void rng_seed(rng_t *r, uint64_t seed);
void rng_seed2(rng_t *r, uint64_t seed, uint64_t stream); /* independent stream */
uint64_t rng_u64(rng_t *r);
double rng_uniform(rng_t *r);                    /* [0,1) */
double rng_range(rng_t *r, double lo, double hi); /* [lo,hi) */
uint64_t rng_below(rng_t *r, uint64_t n);        /* uniform integer in [0,n), unbiased */
double rng_normal(rng_t *r);                     /* N(0,1) */
#endif
