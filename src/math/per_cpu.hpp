#pragma once
// NABLA_PER_CPU before a function compiles it for AVX-512, for AVX2 and for the baseline, and the
// CPU picks one when the program loads (GCC's target_clones). For the few elementwise loops that a
// step spends time in; the portable build otherwise targets the baseline only. No effect off x86.
// With -ffp-contract=off (CMakeLists.txt) the variants give the same bits. GCC only: clang 14's
// target_clones takes no templates, and clang builds nabla only for the sanitizers and fuzzers.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NABLA_PER_CPU __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NABLA_PER_CPU
#endif
