// AdamW (AdamWCpu is the definition), one fused pass over fp32 param, grad, m, v of n elements.
// The host computes the bias corrections 1 - beta^step in double; the update is the CPU formula in
// fp32, in the same order:
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   param -= lr * ((m / c1) / (sqrt(v / c2) + eps) + weight_decay * param)
// Packs of 4 elements in 16-byte accesses, then the last n % 4 one by one.
struct AdamW {
  float lr, beta1, beta2, one_minus_beta1, one_minus_beta2, correction1, correction2, eps, decay;

  __device__ __forceinline__ void step(float& p, float g, float& m, float& v) const {
    m = beta1 * m + one_minus_beta1 * g;
    v = beta2 * v + one_minus_beta2 * g * g;
    float m_hat = m / correction1;
    float v_hat = v / correction2;
    p -= lr * (m_hat / (sqrtf(v_hat) + eps) + decay * p);
  }
};

extern "C" __global__ void adamw_f32(float* param, const float* grad, float* m, float* v, long n,
                                     float lr, float beta1, float beta2, float one_minus_beta1,
                                     float one_minus_beta2, float correction1, float correction2,
                                     float eps, float decay) {
  const AdamW h{lr, beta1, beta2, one_minus_beta1, one_minus_beta2, correction1, correction2, eps, decay};
  long packs = n / 4;
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < packs; i += (long)gridDim.x * blockDim.x) {
    float4 p = reinterpret_cast<float4*>(param)[i];
    float4 g = reinterpret_cast<const float4*>(grad)[i];
    float4 mi = reinterpret_cast<float4*>(m)[i];
    float4 vi = reinterpret_cast<float4*>(v)[i];
    h.step(p.x, g.x, mi.x, vi.x);
    h.step(p.y, g.y, mi.y, vi.y);
    h.step(p.z, g.z, mi.z, vi.z);
    h.step(p.w, g.w, mi.w, vi.w);
    reinterpret_cast<float4*>(param)[i] = p;
    reinterpret_cast<float4*>(m)[i] = mi;
    reinterpret_cast<float4*>(v)[i] = vi;
  }
  long tail = packs * 4 + (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (tail < n) {
    h.step(param[tail], grad[tail], m[tail], v[tail]);
  }
}
