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

// swiglu_value's bits without a branch, for code that evaluates many values at once (the fused GEMM
// epilogue: 64 per thread): sigmoid's two cases share expf(-|g|) and one quotient n / (1 + e) with n
// = 1 or e, and the quotient is fp32 division's fast path written out (reciprocal estimate, a Newton
// step, a remainder correction: the instructions `/` runs when its operand check passes), so that
// the values' chains interleave instead of queuing behind a branch and a call each. That path is
// correctly rounded, as `/` is, for a divisor in [1, 2] and a normal numerator well above 2^-126;
// `exact` turns false where the numerator is below 2^-64 (g < -44.3) or not a number, and the
// caller then evaluates swiglu_value instead.
__device__ __forceinline__ float swiglu_value_unbranched(float g, float u, bool& exact) {
  const float e = expf(-fabsf(g));
  const float n = g >= 0.0f ? 1.0f : e, d = 1.0f + e;
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(d));
  r = fmaf(r, fmaf(-d, r, 1.0f), r);
  const float q = n * r;
  const float s = fmaf(r, fmaf(-d, q, n), q);
  exact = n >= 0x1p-64f;
  return g * s * u;
}
