// Token embedding (EmbeddingCpu is the definition). out [T, C] = table [V, C] rows picked by
// tokens [T]; backward dTable [V, C] fp32 += dOut [T, C] rows scattered by tokens. One thread per
// pack of N channels of one token. Token ids are not checked on the host (that would read them
// back and stall the stream): an id outside [0, V) gets a NaN output row, which the trainer's
// finiteness check catches, and adds nothing in the backward.
#include <math.h>
#include "pack.cuh"

template <typename O, typename W, int N>
__device__ void embedding_forward(O* out, const int* tokens, const W* table, long token_count,
                                  int channels, int vocab) {
  int packs = channels / N;
  GRID_STRIDE(i, token_count * packs) {
    long t = i / packs;
    int c = (int)(i - t * packs) * N;
    int id = tokens[t];
    float f[N];
    if (id >= 0 && id < vocab) {
      load<N>(table + (long)id * channels + c, f);
    } else {
#pragma unroll
      for (int k = 0; k < N; k++) f[k] = NAN;
    }
    store<N>(out + t * channels + c, f);
  }
}

// row[0 .. N) += f with fp32 atomics; sm_90 adds four floats per atomic (16-byte aligned for N = 8).
template <int N>
__device__ __forceinline__ void atomic_add(float* row, const float (&f)[N]) {
#if __CUDA_ARCH__ >= 900
  if constexpr (N == 8) {
    atomicAdd(reinterpret_cast<float4*>(row), make_float4(f[0], f[1], f[2], f[3]));
    atomicAdd(reinterpret_cast<float4*>(row) + 1, make_float4(f[4], f[5], f[6], f[7]));
  } else
#endif
  {
#pragma unroll
    for (int k = 0; k < N; k++) atomicAdd(row + k, f[k]);
  }
}

// Repeated tokens add into one row from many threads: fp32 atomics, so the order of the adds (and
// the last bit of dTable) can change between runs.
template <typename D, int N>
__device__ void embedding_backward(float* dtable, const D* dout, const int* tokens, long token_count,
                                   int channels, int vocab) {
  int packs = channels / N;
  GRID_STRIDE(i, token_count * packs) {
    long t = i / packs;
    int c = (int)(i - t * packs) * N;
    int id = tokens[t];
    if (id < 0 || id >= vocab) continue;
    float f[N];
    load<N>(dout + t * channels + c, f);
    atomic_add<N>(dtable + (long)id * channels + c, f);
  }
}

#define EMBEDDING_FORWARD(O, W, N)                                                                 \
  extern "C" __global__ void embedding_forward_##O##_##W##_x##N(                                   \
      O* out, const int* tokens, const W* table, long token_count, int channels, int vocab) {      \
    embedding_forward<O, W, N>(out, tokens, table, token_count, channels, vocab);                  \
  }
EMBEDDING_FORWARD(bf16, bf16, 8)
EMBEDDING_FORWARD(bf16, bf16, 1)
EMBEDDING_FORWARD(bf16, f32, 8)
EMBEDDING_FORWARD(bf16, f32, 1)
EMBEDDING_FORWARD(f32, bf16, 8)
EMBEDDING_FORWARD(f32, bf16, 1)
EMBEDDING_FORWARD(f32, f32, 8)
EMBEDDING_FORWARD(f32, f32, 1)

#define EMBEDDING_BACKWARD(D, N)                                                                   \
  extern "C" __global__ void embedding_backward_##D##_x##N(                                        \
      float* dtable, const D* dout, const int* tokens, long token_count, int channels, int vocab) {\
    embedding_backward<D, N>(dtable, dout, tokens, token_count, channels, vocab);                  \
  }
EMBEDDING_BACKWARD(bf16, 8)
EMBEDDING_BACKWARD(bf16, 1)
EMBEDDING_BACKWARD(f32, 8)
EMBEDDING_BACKWARD(f32, 1)
