package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.Shape;

/**
 * Launcher of {@code adamw.cu}: one fused AdamW step over fp32 param, grad, m and v of one shape,
 * param, m and v updated in place. The bias corrections {@code 1 - beta^step} are computed here in
 * double, as AdamWCpu does, and the kernel applies AdamWCpu's formula in fp32 in its order.
 */
final class AdamWCuda {
  private final CudaContext context;

  AdamWCuda(CudaContext context) {
    this.context = context;
  }

  /** Checks shapes, dtypes (all fp32) and hyperparameters before any launch. */
  static void check(Shape param, DType paramType, Shape grad, DType gradType, Shape m, DType mType,
      Shape v, DType vType, double beta1, double beta2, int step) {
    grad.require(param.dims());
    m.require(param.dims());
    v.require(param.dims());
    PointwiseLaunch.requireF32(param, paramType, "AdamW parameter");
    PointwiseLaunch.requireF32(grad, gradType, "AdamW gradient");
    PointwiseLaunch.requireF32(m, mType, "AdamW first moment");
    PointwiseLaunch.requireF32(v, vType, "AdamW second moment");
    if (step < 1) {
      throw new IllegalArgumentException("AdamW step is 1-based, got " + step);
    }
    requireBeta("beta1", beta1);
    requireBeta("beta2", beta2);
  }

  /** A decay rate of 1 would make the bias correction divide by zero. */
  private static void requireBeta(String name, double beta) {
    if (!(beta >= 0 && beta < 1)) {
      throw new IllegalArgumentException("AdamW " + name + " must lie in [0, 1), got " + beta);
    }
  }

  void step(CudaTensor param, CudaTensor grad, CudaTensor m, CudaTensor v, double lr, double beta1,
      double beta2, double eps, double weightDecay, int step) {
    check(param.shape(), param.dtype(), grad.shape(), grad.dtype(), m.shape(), m.dtype(), v.shape(),
        v.dtype(), beta1, beta2, step);
    long n = param.numel();
    if (n == 0) {
      return;
    }
    // Packs of 4 floats, then the n % 4 left over, one thread each.
    context.kernel("adamw", "adamw_f32").launch(PointwiseLaunch.grid(Math.max(n / 4, n % 4)),
        new KernelArgs().ptr(param.buffer()).ptr(grad.buffer()).ptr(m.buffer()).ptr(v.buffer()).i64(n)
            .f32((float) lr).f32((float) beta1).f32((float) beta2).f32((float) (1 - beta1))
            .f32((float) (1 - beta2)).f32((float) (1 - Math.pow(beta1, step)))
            .f32((float) (1 - Math.pow(beta2, step))).f32((float) eps).f32((float) weightDecay));
  }
}
