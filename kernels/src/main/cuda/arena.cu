// The shared exchange's reduction on the device (trainer: DeviceSharedExchange; docs/exchange.md,
// "Ranks of one host"). Every rank's fp32 gradient arena is readable here (DeviceArena: directly,
// over peer access, for ranks that are threads of this process; by CUDA IPC for other processes);
// rank r computes slice r of the mean here, the others copy it out afterwards.

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
                               i += (long)gridDim.x * blockDim.x)

// out[j] = float((a0[j] + a1[j] + ... + a{ranks-1}[j]) * scale) for j in [from, from + count):
// summed in double in rank order and rounded once, the trainer's rule for the driver and the host
// shared kind, so the device meets their bits exactly. The _rn intrinsics keep the compiler from
// contracting the scale into a fused multiply-add. Unused pointers (ranks < 8) are never read.
extern "C" __global__ void arena_mean(const float* a0, const float* a1, const float* a2,
                                      const float* a3, const float* a4, const float* a5,
                                      const float* a6, const float* a7, int ranks, float* out,
                                      long from, long count, double scale) {
  const float* a[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
  GRID_STRIDE(i, count) {
    long j = from + i;
    double sum = a0[j];
#pragma unroll
    for (int r = 1; r < 8; r++) {  // unrolled: a[r] stays in registers, not a stack array
      if (r < ranks) {
        sum = __dadd_rn(sum, (double)a[r][j]);
      }
    }
    out[j] = __double2float_rn(__dmul_rn(sum, scale));
  }
}
