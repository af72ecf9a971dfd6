// LD_PRELOAD shim that counts heap allocations, for bench/rpc/run's
// "allocations per unary call". SIGUSR1 writes the count so far to stderr as
// `allocations N`; the bench reads it before and after a run of calls.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong allocations;

void *malloc(size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_realloc(pointer, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_memalign(alignment, size);
}

static void report(int signal_number) {
    (void)signal_number;
    char line[64];
    unsigned long value = atomic_load(&allocations);
    // snprintf is not async-signal-safe; format by hand.
    char digits[32];
    int n = 0;
    do { digits[n++] = (char)('0' + value % 10); value /= 10; } while (value);
    int length = 0;
    const char *prefix = "allocations ";
    for (const char *p = prefix; *p; p++) line[length++] = *p;
    while (n) line[length++] = digits[--n];
    line[length++] = '\n';
    (void)!write(2, line, (size_t)length);
}

__attribute__((constructor)) static void install(void) {
    signal(SIGUSR1, report);
}
