// SwiGLU's pointwise value, shared by swiglu.cu and the fused GEMM epilogue (gemm_swiglu.cuh) so that
// both give the same bits: SwigluCpu is the definition.
#pragma once

// The logistic function with exp of a non-positive argument only, as the CPU reference.
__device__ __forceinline__ float sigmoid(float g) {
  if (g >= 0.0f) return 1.0f / (1.0f + expf(-g));
  float e = expf(g);
  return e / (1.0f + e);
}

// silu(g) * u in fp32, evaluated as (g * sigmoid(g)) * u.
__device__ __forceinline__ float swiglu_value(float g, float u) { return g * sigmoid(g) * u; }
