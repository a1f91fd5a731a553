package io.mobaspark.kernels.cuda;

import static jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;

import jcuda.driver.CUfunction;
import jcuda.driver.JCudaDriver;

/** One kernel of a loaded module, launched on its context's stream. */
public final class CudaKernel {
  private final CudaContext context;
  private final String name;
  private final CUfunction function;
  private int sharedOptIn; // dynamic shared bytes this kernel has been allowed beyond the default

  CudaKernel(CudaContext context, String name, CUfunction function) {
    this.context = context;
    this.name = name;
    this.function = function;
  }

  /** {@code module.kernel}, as it appears in errors. */
  public String name() {
    return name;
  }

  /**
   * Validates the shape, raises the kernel's dynamic shared-memory limit when the shape needs more
   * than the default 48 KiB, and launches. Launch errors are reported with the kernel and shape;
   * errors of the running kernel surface at the next synchronizing call, or right here when
   * {@link CudaContext#checkEveryLaunch()} is on.
   */
  public void launch(LaunchShape shape, KernelArgs args) {
    CudaDevice device = context.device();
    shape.validate(name, device.sharedPerBlockOptIn());
    context.bind();
    if (shape.sharedBytes() > device.sharedPerBlock() && shape.sharedBytes() > sharedOptIn) {
      check(JCudaDriver.cuFuncSetAttribute(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
          shape.sharedBytes()), "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", shape);
      sharedOptIn = shape.sharedBytes();
    }
    check(JCudaDriver.cuLaunchKernel(function, (int) shape.gridX(), shape.gridY(), shape.gridZ(),
        shape.blockX(), shape.blockY(), shape.blockZ(), shape.sharedBytes(), context.stream(),
        args.toPointer(), null), "cuLaunchKernel", shape);
    if (context.checkEveryLaunch()) {
      check(JCudaDriver.cuStreamSynchronize(context.stream()), "cuStreamSynchronize after", shape);
    }
  }

  private void check(int result, String call, LaunchShape shape) {
    if (result != 0) {
      throw new CudaException(call + " of " + name + " with " + shape + " failed: "
          + Cuda.describe(result), result);
    }
  }
}
