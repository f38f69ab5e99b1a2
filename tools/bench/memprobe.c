/* SPDX-License-Identifier: MIT */
/*
 * The memory probes of the benchmark tour: the heap, counted by the bench's
 * own malloc() and its relatives; resident memory from /proc/self/status;
 * and struct probe, which takes both, the time and ropeio's rope_mem_stats()
 * around one timed operation.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

/* ------------------------------------------------------------------------ */
/* Heap accounting, the same for every peer                                 */
/* ------------------------------------------------------------------------ */

/*
 * The bench defines malloc() and its relatives. The dynamic linker binds
 * every library in the process (ropeio, libevent, GLib, libc itself) to
 * these, and they forward to glibc's allocator, counting each block's
 * malloc_usable_size(): what it really takes, not what was asked. So each
 * peer's memory is counted by one method, ropeio's included (its own
 * rope_mem_stats() is reported beside). Not under AddressSanitizer or
 * ThreadSanitizer (HEAP_COUNTED).
 */

static struct {
	atomic_size_t now, peak;
	atomic_uint_fast64_t total, allocs;
} heap;

static void
heap_read(struct heap_now *h)
{
	h->now = atomic_load_explicit(&heap.now, memory_order_relaxed);
	h->peak = atomic_load_explicit(&heap.peak, memory_order_relaxed);
	h->total = atomic_load_explicit(&heap.total, memory_order_relaxed);
	h->allocs = atomic_load_explicit(&heap.allocs, memory_order_relaxed);
}

static void
heap_reset_peak(void)
{
	atomic_store_explicit(&heap.peak,
			      atomic_load_explicit(&heap.now,
						   memory_order_relaxed),
			      memory_order_relaxed);
}

#if HEAP_COUNTED
static void
heap_peak_update(size_t now_b)
{
	size_t peak = atomic_load_explicit(&heap.peak, memory_order_relaxed);

	while (now_b > peak &&
	       !atomic_compare_exchange_weak_explicit(&heap.peak, &peak, now_b,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static void
heap_add(size_t n)
{
	size_t now_b = atomic_fetch_add_explicit(&heap.now, n,
						 memory_order_relaxed) + n;

	atomic_fetch_add_explicit(&heap.total, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&heap.allocs, 1, memory_order_relaxed);
	heap_peak_update(now_b);
}

static void
heap_sub(size_t n)
{
	atomic_fetch_sub_explicit(&heap.now, n, memory_order_relaxed);
}

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void __libc_free(void *p);

static void *
counted(void *p)
{
	if (p)
		heap_add(malloc_usable_size(p));
	return p;
}

void *
malloc(size_t size)
{
	return counted(__libc_malloc(size));
}

void *
calloc(size_t n, size_t size)
{
	return counted(__libc_calloc(n, size));
}

void
free(void *p)
{
	if (p)
		heap_sub(malloc_usable_size(p));
	__libc_free(p);
}

/*
 * glibc marks a block it mapped by itself (IS_MMAPPED: bit 1 of the size
 * word before the block). realloc() moves such a block with mremap(2),
 * which moves pages without copying them: the old and new blocks never
 * hold memory at the same time, unlike a move inside the heap.
 */
static bool
block_mapped(const void *p)
{
	return ((const size_t *)p)[-1] & 2;
}

void *
realloc(void *p, size_t size)
{
	size_t old = p ? malloc_usable_size(p) : 0, neu;
	bool mapped = p && block_mapped(p);
	void *q = __libc_realloc(p, size);

	if (!q) {
		if (p && size == 0)    /* glibc freed it */
			heap_sub(old);
		return NULL;
	}
	neu = malloc_usable_size(q);
	if (p && q != p && !(mapped && block_mapped(q))) {
		/* Copied: both blocks existed at the peak. */
		heap_add(neu);
		heap_sub(old);
	} else if (neu >= old) {
		heap_add(neu - old);
		atomic_fetch_sub_explicit(&heap.allocs, p ? 1 : 0,
					  memory_order_relaxed);
	} else {
		heap_sub(old - neu);
	}
	return q;
}

void *
memalign(size_t align, size_t size)
{
	return counted(__libc_memalign(align, size));
}

void *
aligned_alloc(size_t align, size_t size)
{
	return counted(__libc_memalign(align, size));
}

int
posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = counted(__libc_memalign(align, size));
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *
valloc(size_t size)
{
	return counted(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), size));
}

void *
pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return counted(__libc_memalign(page, (size + page - 1) & ~(page - 1)));
}
#endif /* HEAP_COUNTED */

/* ------------------------------------------------------------------------ */
/* Resident memory                                                          */
/* ------------------------------------------------------------------------ */

/* VmRSS and VmHWM in bytes, read without stdio so that reading them
 * allocates nothing the heap counters would see. */
static void
rss_read(double *rss, double *hwm)
{
	char buf[4096], *p;
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	*rss = *hwm = NAN;
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if ((p = strstr(buf, "VmRSS:")))
		*rss = strtod(p + 6, NULL) * 1024;
	if ((p = strstr(buf, "VmHWM:")))
		*hwm = strtod(p + 6, NULL) * 1024;
}

/*
 * The proportional set size in bytes (Pss in /proc/self/smaps_rollup,
 * Linux 4.14 and later): each resident page divided by the number of
 * processes that map it, so memory shared with a parent after fork(), or
 * between processes mapping one file, is counted once in all. Read without
 * stdio, like rss_read(). NAN where the kernel has no smaps_rollup.
 */
static double
pss_read(void)
{
	char buf[2048], *p;
	ssize_t n;
	int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NAN;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NAN;
	buf[n] = 0;
	p = strstr(buf, "\nPss:");
	return p ? strtod(p + 5, NULL) * 1024 : NAN;
}

/* Minor page faults of the process so far (all its threads). */
static long
minflt(void)
{
	struct rusage u;

	return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_minflt : 0;
}

bool rss_resets = true;

/* Reset VmHWM to the current RSS (Linux 4.0 and later). */
static void
rss_reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "5", 1) != 1)
		rss_resets = false;
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------------------------ */
/* Probes: one timed operation, its time and its memory                     */
/* ------------------------------------------------------------------------ */

/*
 * Start measuring. In the cold mode, ropeio's chunk cache and freed heap
 * memory go back to the kernel first, so that the operation pays for the pages it touches as in
 * a fresh process; in the warm mode the heap stays as the repetitions
 * before left it. The resident peak is reset. Neither is inside the timed
 * window.
 */
void
probe_start(struct probe *p)
{
	double hwm;

	if (bench_cold)
		cold_trim();
	rss_reset_peak();
	rss_read(&p->rss0, &hwm);
	p->pss0 = pss_read();
	p->minflt0 = minflt();
	rope_mem_stats(&p->o0, sizeof(p->o0));
	heap_reset_peak();
	heap_read(&p->h0);
	rope_mem_reset_peak();
	p->t0 = now();
}

void
probe_stop(struct probe *p)
{
	double t1 = now(), rss, hwm;
	long flt = minflt();
	struct heap_now h;
	struct rope_mem_stats o;

	heap_read(&h);
	rope_mem_stats(&o, sizeof(o));
	rss_read(&rss, &hwm);
	p->pss_kept = pss_read() - p->pss0;
	p->rss_kept = rss - p->rss0;
	p->faults = (double)(flt - p->minflt0);
	p->t = t1 - p->t0;
	p->kept = HEAP_COUNTED ? (double)h.now - (double)p->h0.now : NAN;
	p->peak = HEAP_COUNTED ? (double)h.peak - (double)p->h0.now : NAN;
	p->total = HEAP_COUNTED ? (double)(h.total - p->h0.total) : NAN;
	p->allocs = HEAP_COUNTED ? (double)(h.allocs - p->h0.allocs) : NAN;
	p->rss_peak = rss_resets ? hwm - p->rss0 : NAN;
	p->own_kept = (double)o.allocated - (double)p->o0.allocated;
	p->own_peak = (double)o.peak - (double)p->o0.allocated;
	p->own_total = (double)(o.total - p->o0.total);
}

void
probe_scale(struct probe *p, double n)
{
	p->t /= n;
	p->kept /= n;
	p->peak /= n;
	p->total /= n;
	p->allocs /= n;
	p->rss_peak /= n;
	p->rss_kept /= n;
	p->pss_kept /= n;
	p->own_kept /= n;
	p->own_peak /= n;
	p->own_total /= n;
}

