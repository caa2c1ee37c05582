/* test_f16.c - the half-precision conversions of common/tensorfile.h
 * (tf_f16_to_f32, tf_f32_to_f16: what CKPT_F16 stores a shipped model with).
 *
 *   - every one of the 65536 halves goes f16 -> f32 -> f16 to itself; a NaN
 *     stays a NaN of the same sign and payload (a signalling NaN comes back
 *     quieted, bit 9 set, as F16C's VCVTPH2PS/VCVTPS2PH pair does);
 *   - f16 -> f32 is exact: finite halves against ldexp(mantissa, exponent);
 *   - rounding of every tie: for each pair of adjacent positive halves a < b
 *     (b = 65536 above the largest, 65504, where the result is inf), the
 *     float midpoint (a+b)/2 -- exact in float, 12 significant bits -- must
 *     give the one with an even mantissa, the float just below it a, the
 *     float just above it b; the same negated;
 *   - hand-picked cases, each explained below (and checked once with numpy:
 *     np.float32(x).astype(np.float16) gives the same bits for every one).
 */
#include <float.h>
#include <stdint.h>
#include <string.h>
#include "t.h"
#include "tensorfile.h"

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* The value of positive half h < 0x7c00 from its fields, independently of
 * tf_f16_to_f32; h = 0x7c00 counts as 65536 (the next step up). */
static double half_value(uint32_t h) {
    if (h == 0x7c00) return 65536.0;
    uint32_t ex = h >> 10 & 0x1f, m = h & 0x3ff;
    return ex ? ldexp(1024.0 + m, (int)ex - 25) : ldexp((double)m, -24);
}

static void test_all_halves(void) {
    size_t bad = 0, badv = 0, nans = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tf_f16_to_f32((uint16_t)h);
        uint16_t back = tf_f32_to_f16(f);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            nans++;
            if (!(f != f) || back != (h | 0x200)) {
                if (bad++ < 5) printf("#   NaN %04x -> %08x -> %04x\n", h, fbits(f), back);
            }
            continue;
        }
        if (back != h && bad++ < 5) printf("#   %04x -> %.9g -> %04x\n", h, f, back);
        if ((h & 0x7fff) < 0x7c00) { /* finite: the exact value */
            double v = half_value(h & 0x7fff);
            if (h & 0x8000) v = -v;
            if ((double)f != v && badv++ < 5) printf("#   %04x -> %.9g, want %.9g\n", h, f, v);
        } else if (!isinf(f) || (f < 0) != !!(h & 0x8000)) {
            badv++;
        }
    }
    CHECK(bad == 0, "all 65536 halves: f16 -> f32 -> f16 gives the same half (%zu NaNs stay NaN, quieted); %zu differ",
          nans, bad);
    CHECK(badv == 0, "all finite halves convert to their exact value, +-inf to +-inf (%zu wrong)", badv);
}

static void test_ties(void) {
    size_t bad = 0, n = 0;
    for (uint32_t a = 0; a < 0x7c00; a++) {
        uint32_t b = a + 1;
        double va = half_value(a), vb = half_value(b);
        float mid = (float)((va + vb) / 2);
        if ((double)mid != (va + vb) / 2) { /* cannot happen: 12 significant bits */
            bad++;
            continue;
        }
        float below = nextafterf(mid, 0), above = nextafterf(mid, INFINITY);
        uint32_t even = (a & 1) ? b : a;
        for (int s = 0; s < 2; s++) {
            uint32_t sg = s ? 0x8000 : 0;
            float m = s ? -mid : mid, lo = s ? -below : below, hi = s ? -above : above;
            uint16_t got[3] = {tf_f32_to_f16(m), tf_f32_to_f16(lo), tf_f32_to_f16(hi)};
            uint16_t want[3] = {(uint16_t)(sg | even), (uint16_t)(sg | a), (uint16_t)(sg | b)};
            for (int k = 0; k < 3; k++, n++)
                if (got[k] != want[k] && bad++ < 5)
                    printf("#   between %04x and %04x: %.9g -> %04x, want %04x\n", a, b,
                           k == 0 ? m : k == 1 ? lo : hi, got[k], want[k]);
        }
    }
    CHECK(bad == 0, "every midpoint between adjacent halves rounds to the even one, its float neighbours to the nearer "
                    "(%zu cases, %zu wrong)", n, bad);
}

static void test_cases(void) {
    static const struct {
        float x;
        uint16_t want;
        const char *why;
    } c[] = {
        {65520.0f, 0x7c00, "65520 = midpoint of 65504 (mantissa 0x3ff, odd) and 65536: ties to even -> inf"},
        {65519.99609375f, 0x7bff, "just below 65520 -> 65504 (the largest half)"},
        {65504.0f, 0x7bff, "65504 exact"},
        {1e10f, 0x7c00, "far above the range -> inf (as a cast does)"},
        {FLT_MAX, 0x7c00, "FLT_MAX -> inf"},
        {-65520.0f, 0xfc00, "-65520 -> -inf"},
        {0x1p-25f, 0x0000, "2^-25 = midpoint of 0 and 2^-24 (the smallest subnormal): even -> 0"},
        {0x1.000002p-25f, 0x0001, "just above 2^-25 -> 2^-24"},
        {0x1.8p-25f * 2.0f, 0x0002, "3*2^-25 = midpoint of 2^-24 (odd) and 2*2^-24: -> 2*2^-24 = 2^-23"},
        {0x1p-26f, 0x0000, "2^-26, below half the smallest subnormal -> 0"},
        {-0x1p-25f, 0x8000, "-2^-25 -> -0"},
        {0x1.ffcp-15f, 0x0400, "2^-14 - 2^-25 = midpoint of 0x3ff (odd) and 0x400 (the smallest normal): -> 0x400"},
        {0x1p-14f, 0x0400, "2^-14, the smallest normal"},
        {0x1.ff8p-15f, 0x03ff, "2^-14 - 2^-24, the largest subnormal"},
        {1.0f + 0x1p-11f, 0x3c00, "1 + 2^-11 = midpoint of 1 (even) and 1 + 2^-10: -> 1"},
        {1.0f + 0x1p-11f + 0x1p-23f, 0x3c01, "just above it -> 1 + 2^-10"},
        {1.0f + 3 * 0x1p-11f, 0x3c02, "1 + 3*2^-11 = midpoint of 1+2^-10 (odd) and 1+2^-9: -> 1 + 2^-9"},
        {0x1.ffep0f, 0x4000, "2 - 2^-11 = midpoint of 2 - 2^-10 (odd) and 2: -> 2 (carry into the exponent)"},
        {-2.5f, 0xc100, "-2.5 exact"},
        {0.1f, 0x2e66, "0.1 -> 0x2e66 = 0.0999755859375 (0x2e67 = 0.10003662109375 is farther)"},
        {-0.0f, 0x8000, "-0 keeps its sign"},
        {0x1p-149f, 0x0000, "the smallest float subnormal -> 0"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        uint16_t h = tf_f32_to_f16(c[i].x);
        CHECK(h == c[i].want, "%.9g -> %04x: %s (got %04x)", c[i].x, c[i].want, c[i].why, h);
    }
    float qnan = NAN;
    uint16_t hn = tf_f32_to_f16(qnan), hin = tf_f32_to_f16(-INFINITY);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff), "float NaN -> a half NaN (%04x)", hn);
    CHECK(hin == 0xfc00, "-inf -> 0xfc00 (%04x)", hin);
}

int main(void) {
    test_all_halves();
    test_ties();
    test_cases();
    T_DONE();
}
