package io.mobaspark.kernels.cuda;

/**
 * An fp32 view of a small tensor for kernels that take fp32 parameters: the tensor itself when it
 * is fp32, else a converted temporary copy, written back by {@link #writeBack()} when the kernel
 * updated it (bf16 kconv weights and their gradients, [Hkv, W, D]: a few KiB).
 */
final class Fp32View implements AutoCloseable {
  private final CudaMemoryOps memory;
  private final CudaTensor original;
  private final CudaTensor view;

  private Fp32View(CudaMemoryOps memory, CudaTensor original, CudaTensor view) {
    this.memory = memory;
    this.original = original;
    this.view = view;
  }

  static Fp32View of(CudaContext context, CudaMemoryOps memory, CudaTensor t) {
    if (t.dtype() == DType.F32) {
      return new Fp32View(memory, t, t);
    }
    CudaTensor copy = new CudaTensor(t.shape(), DType.F32, context.allocate(4 * t.numel()));
    memory.copy(copy, t);
    return new Fp32View(memory, t, copy);
  }

  DeviceBuffer buffer() {
    return view.buffer();
  }

  /** Copies the fp32 values back into a bf16 original (rounding once); nothing for fp32. */
  void writeBack() {
    if (view != original) {
      memory.copy(original, view);
    }
  }

  @Override
  public void close() {
    if (view != original) {
      view.close();
    }
  }
}
