package io.mobaspark.kernels.cuda;

/**
 * An fp32 view of a small tensor for kernels that take fp32 parameters: the tensor itself when it
 * is fp32, else a converted copy in a scratch buffer that the caller keeps across calls, written
 * back by {@link #writeBack()} when the kernel updated it (bf16 kconv weights and their gradients,
 * [Hkv, W, D]: a few KiB). The scratch buffer is reused, not allocated and freed per call: a
 * cuMemFree waits for the whole device, which drained the training step's queue twice per kconv
 * layer.
 */
final class Fp32View {
  private final CudaMemoryOps memory;
  private final CudaTensor original;
  private final CudaTensor view;

  private Fp32View(CudaMemoryOps memory, CudaTensor original, CudaTensor view) {
    this.memory = memory;
    this.original = original;
    this.view = view;
  }

  /** The fp32 view of {@code t}; a bf16 {@code t} is copied into {@code scratch}. */
  static Fp32View of(CudaMemoryOps memory, CudaTensor t, ScratchBuffer scratch) {
    if (t.dtype() == DType.F32) {
      return new Fp32View(memory, t, t);
    }
    CudaTensor copy = CudaTensor.borrowing(t.shape(), DType.F32, scratch.atLeast(4 * t.numel()));
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
}
