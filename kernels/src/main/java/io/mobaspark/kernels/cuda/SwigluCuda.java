package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.Shape;

/**
 * Launchers of {@code swiglu.cu}: out = silu(gate) * up and its backward, elementwise over
 * {@code [T, F]} tensors that share one dtype (bf16 or fp32). dGate and dUp are overwritten and may
 * be dOut itself.
 */
final class SwigluCuda {
  private final CudaContext context;

  SwigluCuda(CudaContext context) {
    this.context = context;
  }

  /** Checks that {@code t} has gate's shape and dtype. */
  static void checkLike(Shape t, DType type, Shape gate, DType gateType, String role) {
    t.require(gate.dims());
    PointwiseLaunch.requireSameDType(t, type, gate, gateType, role);
  }

  void forward(CudaTensor out, CudaTensor gate, CudaTensor up) {
    checkLike(up.shape(), up.dtype(), gate.shape(), gate.dtype(), "SwiGLU up");
    checkLike(out.shape(), out.dtype(), gate.shape(), gate.dtype(), "SwiGLU output");
    long n = gate.numel();
    if (n > 0) {
      context.kernel("swiglu", "swiglu_forward_" + PointwiseLaunch.suffix(gate)).launch(
          PointwiseLaunch.grid((n + 7) / 8), new KernelArgs().ptr(out.buffer()).ptr(gate.buffer())
              .ptr(up.buffer()).i64(n));
    }
  }

  void backward(CudaTensor dGate, CudaTensor dUp, CudaTensor dOut, CudaTensor gate, CudaTensor up) {
    checkLike(up.shape(), up.dtype(), gate.shape(), gate.dtype(), "SwiGLU up");
    checkLike(dOut.shape(), dOut.dtype(), gate.shape(), gate.dtype(), "SwiGLU dOut");
    checkLike(dGate.shape(), dGate.dtype(), gate.shape(), gate.dtype(), "SwiGLU dGate");
    checkLike(dUp.shape(), dUp.dtype(), gate.shape(), gate.dtype(), "SwiGLU dUp");
    long n = gate.numel();
    if (n > 0) {
      context.kernel("swiglu", "swiglu_backward_" + PointwiseLaunch.suffix(gate)).launch(
          PointwiseLaunch.grid((n + 7) / 8), new KernelArgs().ptr(dGate.buffer()).ptr(dUp.buffer())
              .ptr(dOut.buffer()).ptr(gate.buffer()).ptr(up.buffer()).i64(n));
    }
  }
}
