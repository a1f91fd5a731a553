// RoPE, rotate-half convention (RopeCpu is the definition): for token t at position p, head h and
// pair i < D/2, (x[i], x[i + D/2]) rotates by direction * p * theta^(-2i/D); direction +1 forward,
// -1 backward (the transpose). x, out [T, heads, D] bf16 or fp32, out may be x: every thread reads
// its elements before writing them.
//
// One thread per token and pack of N pairs: it computes the N angles once and rotates them in every
// head. The angle is formed and reduced to [-pi, pi] in double (p up to 64K times a frequency near 1
// would lose ~1e-2 rad in fp32), then sincosf of the reduced angle.
#include "pack.cuh"

template <typename A, int N>
__device__ void rope(A* out, const A* in, const int* positions, long tokens, int heads, int dim,
                     double log2_theta, float direction) {
  int half = dim / 2;
  int packs = half / N;
  GRID_STRIDE(work, tokens * packs) {
    long t = work / packs;
    int i0 = (int)(work - t * packs) * N;
    double pos = positions[t];
    float cs[N], sn[N];
#pragma unroll
    for (int k = 0; k < N; k++) {
      double angle = pos * exp2(-2.0 * (i0 + k) / dim * log2_theta);
      double reduced = angle - rint(angle * 0.15915494309189535) * 6.283185307179586;
      sincosf((float)reduced, &sn[k], &cs[k]);
      sn[k] *= direction;
    }
    for (int h = 0; h < heads; h++) {
      long base = (t * heads + h) * dim + i0;
      float a[N], b[N], ra[N], rb[N];
      load<N>(in + base, a);
      load<N>(in + base + half, b);
#pragma unroll
      for (int k = 0; k < N; k++) {
        ra[k] = a[k] * cs[k] - b[k] * sn[k];
        rb[k] = b[k] * cs[k] + a[k] * sn[k];
      }
      store<N>(out + base, ra);
      store<N>(out + base + half, rb);
    }
  }
}

#define ROPE(A, N)                                                                                 \
  extern "C" __global__ void rope_##A##_x##N(A* out, const A* in, const int* positions, long tokens, \
                                             int heads, int dim, double log2_theta,                \
                                             float direction) {                                    \
    rope<A, N>(out, in, positions, tokens, heads, dim, log2_theta, direction);                     \
  }
ROPE(bf16, 8)
ROPE(bf16, 1)
ROPE(f32, 8)
ROPE(f32, 1)
