package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Shape;

/**
 * Launchers of {@code kconv.cu} (kconv forward and backward, docs/moba.md): k, out, dOut, dk are
 * bf16 {@code [T, Hkv, D]}; weight and dWeight {@code [Hkv, W, D]} are fp32 (bf16 is converted
 * through an fp32 copy); W is 1 to {@value #MAX_WIDTH}.
 */
final class KeyConvCuda implements AutoCloseable {
  /** The kernels keep {@code MAX_WIDTH} taps in registers (KCONV_MAX_WIDTH in kconv.cu). */
  static final int MAX_WIDTH = 5;
  /** One warp-multiple block of channels; a thread owns one channel. */
  static final int THREADS = 128;
  /** Tokens one forward thread walks: long enough to reuse the taps, short enough for many blocks. */
  static final int FORWARD_RUN = 16;
  /**
   * The backward splits the tokens into at most this many chunks: the dWeight partials
   * {@code [chunks, W, C]} fp32 stay a few MiB at any T, and the chunking depends on T alone, so
   * dWeight adds in one fixed order (bitwise reproducible).
   */
  static final int MAX_CHUNKS = 512;
  static final int MIN_BACKWARD_RUN = 16;

  private final CudaContext context;
  private final CudaMemoryOps memory;
  private DeviceBuffer partials; // grows to the largest [chunks, W, C] fp32 seen

  KeyConvCuda(CudaContext context, CudaMemoryOps memory) {
    this.context = context;
    this.memory = memory;
  }

  /** Checks shapes, dtypes and aliasing before any launch; returns W. */
  static int check(Shape k, DType kType, Shape weight, DType weightType, Shape out, DType outType,
      String outRole, SeqLayout layout) {
    int width = OpChecks.keyConvWidth(weight, k);
    if (width > MAX_WIDTH) {
      throw new IllegalArgumentException("kconv weight " + weight + " has width " + width
          + ": the CUDA kernels support widths 1 to " + MAX_WIDTH);
    }
    out.require(k.dims());
    layout.requireTokens(k.dim(0), "tensor " + k);
    KernelChecks.requireDType(k, kType, DType.BF16, "kconv keys");
    KernelChecks.requireDType(out, outType, DType.BF16, outRole);
    if (weightType != DType.F32 && weightType != DType.BF16) {
      throw new IllegalArgumentException("kconv weight " + weight + " has unsupported dtype " + weightType);
    }
    return width;
  }

  void forward(CudaTensor out, CudaTensor k, CudaTensor weight, DeviceLayout layout) {
    int width = check(k.shape(), k.dtype(), weight.shape(), weight.dtype(), out.shape(), out.dtype(),
        "kconv output", layout.layout());
    KernelChecks.requireDistinct(out, k);
    long tokens = k.dim(0);
    int channels = k.dim(1) * k.dim(2);
    try (Fp32View w = Fp32View.of(context, memory, weight)) {
      LaunchShape shape = LaunchShape.of((tokens + FORWARD_RUN - 1) / FORWARD_RUN,
          channelBlocks(channels), THREADS);
      context.kernel("kconv", "kconv_forward").launch(shape, new KernelArgs()
          .ptr(out.buffer()).ptr(k.buffer()).ptr(w.buffer()).ptr(layout.cuSeqlens())
          .i32(layout.layout().sequences()).i64(tokens).i32(channels).i32(k.dim(2)).i32(width)
          .i32(FORWARD_RUN));
    }
  }

  void backward(CudaTensor dk, CudaTensor dWeight, CudaTensor dOut, CudaTensor k, CudaTensor weight,
      DeviceLayout layout) {
    int width = check(k.shape(), k.dtype(), weight.shape(), weight.dtype(), dk.shape(), dk.dtype(),
        "kconv dk", layout.layout());
    check(k.shape(), k.dtype(), weight.shape(), weight.dtype(), dOut.shape(), dOut.dtype(),
        "kconv dOut", layout.layout());
    dWeight.shape().require(weight.shape().dims());
    KernelChecks.requireDistinct(dk, dOut);
    KernelChecks.requireDistinct(dk, k);
    int tokens = k.dim(0);
    int channels = k.dim(1) * k.dim(2);
    int run = backwardRun(tokens);
    int chunks = (tokens + run - 1) / run;
    DeviceBuffer partial = partials(4L * chunks * width * channels);
    try (Fp32View w = Fp32View.of(context, memory, weight);
        Fp32View dw = Fp32View.of(context, memory, dWeight)) {
      context.kernel("kconv", "kconv_backward_tokens").launch(
          LaunchShape.of(chunks, channelBlocks(channels), THREADS), new KernelArgs()
              .ptr(dk.buffer()).ptr(partial).ptr(dOut.buffer()).ptr(k.buffer()).ptr(w.buffer())
              .ptr(layout.cuSeqlens()).i32(layout.layout().sequences()).i64(tokens).i32(channels)
              .i32(k.dim(2)).i32(width).i32(run));
      long taps = (long) width * channels;
      context.kernel("kconv", "kconv_backward_weight").launch(
          LaunchShape.of((taps + THREADS - 1) / THREADS, THREADS), new KernelArgs()
              .ptr(dw.buffer()).ptr(partial).i32(chunks).i32(channels).i32(k.dim(2)).i32(width));
      dw.writeBack();
    }
  }

  /** Tokens per backward chunk: at least {@value #MIN_BACKWARD_RUN}, at most {@value #MAX_CHUNKS} chunks. */
  static int backwardRun(int tokens) {
    int byChunks = (tokens + MAX_CHUNKS - 1) / MAX_CHUNKS;
    return Math.max(MIN_BACKWARD_RUN, byChunks);
  }

  private static int channelBlocks(int channels) {
    return (channels + THREADS - 1) / THREADS;
  }

  private DeviceBuffer partials(long bytes) {
    if (partials == null || partials.bytes() < bytes) {
      if (partials != null) {
        partials.close();
      }
      partials = context.allocate(bytes);
    }
    return partials;
  }

  @Override
  public void close() {
    if (partials != null) {
      partials.close();
    }
  }
}
