// Host-side helpers shared by the kernel labs (moba_harness.cu, xent_harness.cu): checked CUDA
// calls, bf16 rounding on the host, a small deterministic generator, and random normal bf16 inputs
// drawn on the device. Needs bf16 (pack.cuh or moba_common.cuh) declared first.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define CK(x)                                                                               \
  do {                                                                                      \
    cudaError_t e_ = (x);                                                                   \
    if (e_ != cudaSuccess) {                                                                \
      fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__,     \
              __LINE__, #x);                                                                \
      exit(2);                                                                              \
    }                                                                                       \
  } while (0)
#define LAUNCHED() CK(cudaGetLastError())  // after every launch: bad shapes fail here, by line

static uint16_t to_bf16(float f) {  // round to nearest even
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}
static float from_bf16(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static float round_bf16(float f) { return from_bf16(to_bf16(f)); }

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  double uniform() {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    return ((s >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  }
  float normal() { return float(sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform())); }
  int below(int n) { return (int)(uniform() * n); }  // uniform in [0, n)
};

// Random normal bf16 inputs generated on the device (a hash of the index, Box-Muller): at 512K
// the host would spend tens of seconds of device time drawing them.
__global__ void lab_fill_normal(bf16* x, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    float u1 = (float(z >> 40) + 0.5f) * 5.9604645e-8f, u2 = (float(z & 0xffffff) + 0.5f) * 5.9604645e-8f;
    x[i] = __float2bfloat16(sqrtf(-2.f * logf(u1)) * cospif(2.f * u2));
  }
}
