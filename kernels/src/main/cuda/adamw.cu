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

  // step of the four elements of 16-byte pack i.
  __device__ __forceinline__ void step_pack(float* param, const float* grad, float* m, float* v, long i) const {
    float4 p = reinterpret_cast<float4*>(param)[i];
    float4 g = reinterpret_cast<const float4*>(grad)[i];
    float4 mi = reinterpret_cast<float4*>(m)[i];
    float4 vi = reinterpret_cast<float4*>(v)[i];
    step(p.x, g.x, mi.x, vi.x);
    step(p.y, g.y, mi.y, vi.y);
    step(p.z, g.z, mi.z, vi.z);
    step(p.w, g.w, mi.w, vi.w);
    reinterpret_cast<float4*>(param)[i] = p;
    reinterpret_cast<float4*>(m)[i] = mi;
    reinterpret_cast<float4*>(v)[i] = vi;
  }
};

extern "C" __global__ void adamw_f32(float* param, const float* grad, float* m, float* v, long n,
                                     float lr, float beta1, float beta2, float one_minus_beta1,
                                     float one_minus_beta2, float correction1, float correction2,
                                     float eps, float decay) {
  const AdamW h{lr, beta1, beta2, one_minus_beta1, one_minus_beta2, correction1, correction2, eps, decay};
  long packs = n / 4;
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < packs; i += (long)gridDim.x * blockDim.x) {
    h.step_pack(param, grad, m, v, i);
  }
  long tail = packs * 4 + (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (tail < n) {
    h.step(param[tail], grad[tail], m[tail], v[tail]);
  }
}

// grad[i] = (float)((double)grad[i] * s): memory.cu's scale, the global-norm clipping.
__device__ __forceinline__ float clip(float g, double s) { return (float)((double)g * s); }

// AdamW over many tensors in one launch (Backend.adamwAll; the table is TensorChunks'): block b
// updates chunk b, elements [start, min(start + chunk, n)) of tensor i = chunk_tensor[b] with
// start = chunk_start[b], whose param, grad, m, v are at addresses[4i .. 4i + 3] and whose weight
// decay is decays[i]. chunk is a multiple of 4 and buffers are 256-byte aligned, so a chunk's
// packs are 16-byte aligned; its last n % 4 elements go one by one. Each element is updated by the
// same AdamW::step as adamw_f32, so the result is the same bit for bit. grad_scale != 1 first
// scales each gradient in place as scale_f32 does (clipping folded in: no launch per tensor).
extern "C" __global__ void adamw_f32_chunks(const unsigned long long* addresses, const long* sizes,
                                            const float* decays, const int* chunk_tensor,
                                            const long* chunk_start, long chunk, float lr, float beta1,
                                            float beta2, float one_minus_beta1, float one_minus_beta2,
                                            float correction1, float correction2, float eps,
                                            double grad_scale) {
  const int i = chunk_tensor[blockIdx.x];
  const long start = chunk_start[blockIdx.x], end = min(start + chunk, sizes[i]);
  float* param = reinterpret_cast<float*>(addresses[4 * i]);
  float* grad = reinterpret_cast<float*>(addresses[4 * i + 1]);
  float* m = reinterpret_cast<float*>(addresses[4 * i + 2]);
  float* v = reinterpret_cast<float*>(addresses[4 * i + 3]);
  const AdamW h{lr, beta1, beta2, one_minus_beta1, one_minus_beta2, correction1, correction2, eps, decays[i]};
  const long packs_end = start + (end - start) / 4 * 4;
  for (long e = start + 4 * threadIdx.x; e < packs_end; e += 4 * blockDim.x) {
    if (grad_scale != 1.0) {
      float4 g = reinterpret_cast<float4*>(grad)[e / 4];
      reinterpret_cast<float4*>(grad)[e / 4] =
          make_float4(clip(g.x, grad_scale), clip(g.y, grad_scale), clip(g.z, grad_scale), clip(g.w, grad_scale));
    }
    h.step_pack(param, grad, m, v, e / 4);
  }
  const long tail = packs_end + threadIdx.x;
  if (tail < end) {
    if (grad_scale != 1.0) grad[tail] = clip(grad[tail], grad_scale);
    h.step(param[tail], grad[tail], m[tail], v[tail]);
  }
}
