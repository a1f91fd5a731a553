package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.Shape;
import java.util.Arrays;
import java.util.List;

/**
 * Launcher of {@code adamw.cu}: one fused AdamW step over fp32 param, grad, m and v of one shape,
 * param, m and v updated in place. The bias corrections {@code 1 - beta^step} are computed here in
 * double, as AdamWCpu does, and the kernel applies AdamWCpu's formula in fp32 in its order. {@link
 * #stepAll} updates many parameters in one launch over a {@link TensorChunks} table.
 */
final class AdamWCuda implements AutoCloseable {
  /** Threads per chunk of stepAll. */
  static final int THREADS = 256;

  private final CudaContext context;
  /** The table of the last stepAll (a model's parameters, gradients and moments) and its decays. */
  private final TensorChunksCache chunks;
  private DeviceBuffer decays;
  private double[] decaysHeld;

  AdamWCuda(CudaContext context) {
    this.context = context;
    this.chunks = new TensorChunksCache(context);
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
        hyperparameters(new KernelArgs().ptr(param.buffer()).ptr(grad.buffer()).ptr(m.buffer())
            .ptr(v.buffer()).i64(n), lr, beta1, beta2, eps, step).f32((float) weightDecay));
  }

  /**
   * Every gradient scaled in place by {@code gradScale} (as CudaMemoryOps.scale, skipped at 1), then
   * {@link #step} of every parameter i with weight decay {@code weightDecays[i]}, in one launch.
   */
  void stepAll(List<CudaTensor> params, List<CudaTensor> grads, List<CudaTensor> m,
      List<CudaTensor> v, double gradScale, double lr, double beta1, double beta2, double eps,
      double[] weightDecays, int step) {
    int n = params.size();
    if (grads.size() != n || m.size() != n || v.size() != n || weightDecays.length != n) {
      throw new IllegalArgumentException("AdamW needs as many gradients, moments and decays as "
          + "parameters (" + n + "), got " + grads.size() + ", " + m.size() + ", " + v.size() + ", "
          + weightDecays.length);
    }
    for (int i = 0; i < n; i++) {
      check(params.get(i).shape(), params.get(i).dtype(), grads.get(i).shape(), grads.get(i).dtype(),
          m.get(i).shape(), m.get(i).dtype(), v.get(i).shape(), v.get(i).dtype(), beta1, beta2, step);
    }
    if (n == 0) {
      return;
    }
    TensorChunks table = table(List.of(params, grads, m, v), weightDecays);
    if (table.chunks() == 0) {
      return;
    }
    context.kernel("adamw", "adamw_f32_chunks").launch(LaunchShape.of(table.chunks(), THREADS),
        hyperparameters(new KernelArgs().ptr(table.addresses()).ptr(table.sizes()).ptr(decays)
            .ptr(table.chunkTensor()).ptr(table.chunkStart()).i64(TensorChunks.CHUNK), lr, beta1,
            beta2, eps, step).f64(gradScale));
  }

  /** The table of these tensors and decays, rebuilt (a synchronous upload) only when they change. */
  private TensorChunks table(List<List<CudaTensor>> columns, double[] weightDecays) {
    TensorChunks table = chunks.of(columns);
    if (decays == null || !Arrays.equals(decaysHeld, weightDecays)) {
      if (decays != null) {
        decays.close();
      }
      float[] values = new float[weightDecays.length];
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) weightDecays[i];
      }
      decays = context.allocate(4L * values.length);
      decays.write(values);
      decaysHeld = weightDecays.clone();
    }
    return table;
  }

  /** lr, the betas, 1 - the betas, the bias corrections and eps, in the kernels' order. */
  private static KernelArgs hyperparameters(KernelArgs args, double lr, double beta1, double beta2,
      double eps, int step) {
    return args.f32((float) lr).f32((float) beta1).f32((float) beta2).f32((float) (1 - beta1))
        .f32((float) (1 - beta2)).f32((float) (1 - Math.pow(beta1, step)))
        .f32((float) (1 - Math.pow(beta2, step))).f32((float) eps);
  }

  @Override
  public void close() {
    chunks.close();
    if (decays != null) {
      decays.close();
      decays = null;
      decaysHeld = null;
    }
  }
}
