// SwiGLU (SwigluCpu is the definition): out = silu(gate) * up, silu(g) = g * sigmoid(g),
// elementwise over n = T * F elements, in fp32. Each thread handles packs of 8 elements, then the
// last n % 8 elements one by one. Every input of an element is read before its outputs are
// written, so the gradients may alias dOut.
#include "pack.cuh"
#include "swiglu_math.cuh"

template <int N, typename A>
__device__ __forceinline__ void forward_pack(A* out, const A* gate, const A* up, long i) {
  float g[N], u[N], o[N];
  load<N>(gate + i, g);
  load<N>(up + i, u);
#pragma unroll
  for (int k = 0; k < N; k++) o[k] = swiglu_value(g[k], u[k]);
  store<N>(out + i, o);
}

// dUp = dOut * g * s, dGate = dOut * up * s * (1 + g * (1 - s)), s = sigmoid(g).
template <int N, typename A>
__device__ __forceinline__ void backward_pack(A* dgate, A* dup, const A* dout, const A* gate,
                                              const A* up, long i) {
  float g[N], u[N], d[N], dg[N], du[N];
  load<N>(gate + i, g);
  load<N>(up + i, u);
  load<N>(dout + i, d);
#pragma unroll
  for (int k = 0; k < N; k++) {
    float s = sigmoid(g[k]);
    du[k] = d[k] * g[k] * s;
    dg[k] = d[k] * u[k] * s * (1.0f + g[k] * (1.0f - s));
  }
  store<N>(dup + i, du);
  store<N>(dgate + i, dg);
}

template <typename A>
__device__ void swiglu_forward(A* out, const A* gate, const A* up, long n) {
  long packs = n / 8;
  GRID_STRIDE(p, packs) forward_pack<8>(out, gate, up, p * 8);
  GRID_STRIDE(r, n - packs * 8) forward_pack<1>(out, gate, up, packs * 8 + r);
}

template <typename A>
__device__ void swiglu_backward(A* dgate, A* dup, const A* dout, const A* gate, const A* up, long n) {
  long packs = n / 8;
  GRID_STRIDE(p, packs) backward_pack<8>(dgate, dup, dout, gate, up, p * 8);
  GRID_STRIDE(r, n - packs * 8) backward_pack<1>(dgate, dup, dout, gate, up, packs * 8 + r);
}

#define SWIGLU(A)                                                                                  \
  extern "C" __global__ void swiglu_forward_##A(A* out, const A* gate, const A* up, long n) {      \
    swiglu_forward<A>(out, gate, up, n);                                                           \
  }                                                                                                \
  extern "C" __global__ void swiglu_backward_##A(A* dgate, A* dup, const A* dout, const A* gate,   \
                                                 const A* up, long n) {                            \
    swiglu_backward<A>(dgate, dup, dout, gate, up, n);                                             \
  }
SWIGLU(bf16)
SWIGLU(f32)
