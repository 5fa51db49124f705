#ifndef LATENT_CSIMD_SHIM_H
#define LATENT_CSIMD_SHIM_H

/* Two things the SGD kernel needs that Swift's SIMD types lack: optimisation barriers and a
 * prefetch hint.
 *
 * The barriers take SIMD values (Swift imports these vector types as SIMD8<Float> and
 * SIMD4<Float>). Each returns its argument unchanged through an empty asm statement that
 * claims to modify the register: no instruction is emitted, but the optimiser can no longer
 * see how the value was computed.
 *
 * Why: when only the sum of a vector's lanes is used (the SGD kernel's dot product), LLVM
 * splits the multiply-adds that produced it into 2-lane pieces with their own loads: four
 * times the instructions on the update's critical path. */

typedef float latent_float8 __attribute__((ext_vector_type(8)));
typedef float latent_float4 __attribute__((ext_vector_type(4)));

/* A register that holds the value: SSE/AVX on x86-64, NEON on arm64; 256 bits need AVX. */
#if defined(__x86_64__)
#define LATENT_BARRIER_4(value) __asm__("" : "+x"(value))
#elif defined(__aarch64__)
#define LATENT_BARRIER_4(value) __asm__("" : "+w"(value))
#else
#define LATENT_BARRIER_4(value) (void)(value)
#endif

#if defined(__x86_64__) && defined(__AVX__)
#define LATENT_BARRIER_8(value) __asm__("" : "+x"(value))
#else
#define LATENT_BARRIER_8(value) (void)(value)
#endif

static inline __attribute__((always_inline)) latent_float8 latent_opaque8(latent_float8 value) {
    LATENT_BARRIER_8(value);
    return value;
}

static inline __attribute__((always_inline)) latent_float4 latent_opaque4(latent_float4 value) {
    LATENT_BARRIER_4(value);
    return value;
}

/* Bit i set when lane i of `values` is greater than `threshold` (NaN lanes never are): the
 * top-N scan's test of eight scores at once. Swift's `any(mask)` spills the mask and loops
 * over the lanes; this is one compare and one movemask with AVX. */
#if defined(__x86_64__) && defined(__AVX__)
#include <immintrin.h>
static inline __attribute__((always_inline)) unsigned latent_greater_mask8(latent_float8 values, float threshold) {
    return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps((__m256)values, _mm256_set1_ps(threshold), _CMP_GT_OQ));
}
#else
static inline __attribute__((always_inline)) unsigned latent_greater_mask8(latent_float8 values, float threshold) {
    unsigned bits = 0;
    for (int i = 0; i < 8; i++) bits |= (unsigned)(values[i] > threshold) << i;
    return bits;
}
#endif

/* Asks for the cache line at `address` ahead of its use, for writing (a hint: never faults). */
static inline __attribute__((always_inline)) void latent_prefetch(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
