/* test_prefault.c - mem_prefault (util.h) backs a block's pages without
 * touching what is in them: a pattern written before survives it, on an
 * unaligned block and on sub-ranges that start and end mid-page; tiny blocks,
 * NULL and zero bytes are no-ops; and after it the block's pages are resident
 * (mincore), which is the point of calling it; and a block's 2 MB-aligned
 * interior is advised for transparent huge pages; mem_hugepage advises
 * without backing anything. */
#define _DEFAULT_SOURCE
#include "t.h"
#include "util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int pattern_ok(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 131u + seed)) return 0;
    return 1;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 131u + seed);
}

/* 1 when the mapping holding the first 2 MB boundary at or after `from`
 * has the huge-page advice (VmFlags hg in /proc/self/smaps), 0 when not,
 * -1 when not found */
static int hg_at(const unsigned char *base, size_t len, uintptr_t from) {
    uintptr_t H = (uintptr_t)2 << 20, mid = (from + H - 1) & ~(H - 1);
    if (mid >= (uintptr_t)base + len) return -1;
    FILE *sm = fopen("/proc/self/smaps", "r");
    int inside = 0, hg = -1;
    char line[512];
    while (sm && fgets(line, sizeof line, sm)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = lo <= mid && mid < hi;
        } else if (inside && !strncmp(line, "VmFlags:", 8)) {
            hg = strstr(line, " hg") != NULL;
            break;
        }
    }
    if (sm) fclose(sm);
    return hg;
}

int main(void) {
    long pg = sysconf(_SC_PAGESIZE);
    CHECK(pg > 0, "page size %ld", pg);
    /* 1. contents survive, whole block and odd sub-ranges */
    size_t n = 3u << 20;
    unsigned char *raw = malloc(n + 3), *p = raw + 3; /* not page-aligned */
    fill(p, n, 7);
    mem_prefault(p, n);
    CHECK(pattern_ok(p, n, 7), "a written 3 MB block keeps its bytes");
    mem_prefault(p + 1001, (size_t)pg * 5 + 17);
    mem_prefault(p + n - (size_t)pg * 3 - 5, (size_t)pg * 3);
    CHECK(pattern_ok(p, n, 7), "... and after sub-ranges starting and ending mid-page");
    /* 2. no-ops */
    mem_prefault(NULL, n);
    mem_prefault(p, 0);
    mem_prefault(p + 10, 100);
    CHECK(pattern_ok(p, n, 7), "NULL, 0 bytes and a block under a page change nothing");
    free(raw);
    /* 3. a fresh anonymous mapping is resident after it (Linux 5.14+; older
     * kernels refuse the advice and the pages stay lazy: said, not failed) */
    size_t m = 64 * (size_t)pg;
    unsigned char *q = mmap(NULL, m, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(q != MAP_FAILED, "mmap %zu bytes", m);
    if (q != MAP_FAILED) {
        unsigned char vec[64];
        CHECK(mincore(q, m, vec) == 0, "mincore before");
        int before = 0, after = 0;
        for (int i = 0; i < 64; i++) before += vec[i] & 1;
        mem_prefault(q, m);
        CHECK(mincore(q, m, vec) == 0, "mincore after");
        for (int i = 0; i < 64; i++) after += vec[i] & 1;
        if (madvise(q, (size_t)pg, 23 /* MADV_POPULATE_WRITE */) == 0)
            CHECK(before == 0 && after == 64, "fresh pages resident: %d of 64 before, %d after", before, after);
        else
            printf("# this kernel has no MADV_POPULATE_WRITE: %d of 64 pages resident (lazy, as before)\n", after);
        int zero = 1;
        for (size_t i = 0; i < m; i++) zero &= q[i] == 0;
        CHECK(zero, "the populated pages read as zeros");
        munmap(q, m);
    }
    /* 4. a block's 2 MB-aligned interior is marked for transparent huge
     * pages (the "hg" flag of its mapping in /proc/self/smaps); whether the
     * kernel then gives 2 MB pages is its policy, not checked */
    size_t hm = 8u << 20;
    unsigned char *h = mmap(NULL, hm, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(h != MAP_FAILED, "mmap %zu bytes", hm);
    FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (h != MAP_FAILED && thp) {
        fill(h + 5, hm - 5, 3);
        mem_prefault(h + 5, hm - 5);
        CHECK(pattern_ok(h + 5, hm - 5, 3), "an 8 MB block keeps its bytes through the huge-page advice");
        int hg = hg_at(h, hm, (uintptr_t)h + 5);
        CHECK(hg == 1, "the block's aligned interior is advised for huge pages (VmFlags hg: %d)", hg);
    } else if (h != MAP_FAILED) {
        printf("# no transparent huge pages on this kernel: the advice is not checked\n");
    }
    if (h != MAP_FAILED) munmap(h, hm);
    /* 5. mem_hugepage alone: the advice, nothing backed (a fresh mapping stays non-resident) */
    h = mmap(NULL, hm, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(h != MAP_FAILED, "mmap %zu bytes", hm);
    if (h != MAP_FAILED && thp) {
        mem_hugepage(h + 5, hm - 5);
        size_t npg = hm / (size_t)pg;
        unsigned char *vec = malloc(npg);
        int resident = 0;
        CHECK(vec && mincore(h, hm, vec) == 0, "mincore after mem_hugepage");
        for (size_t i = 0; vec && i < npg; i++) resident += vec[i] & 1;
        CHECK(resident == 0, "mem_hugepage backs nothing: %d of %zu pages resident", resident, npg);
        CHECK(hg_at(h, hm, (uintptr_t)h + 5) == 1, "mem_hugepage advises the aligned interior (VmFlags hg)");
        free(vec);
    }
    if (thp) fclose(thp);
    if (h != MAP_FAILED) munmap(h, hm);
    T_DONE();
}
