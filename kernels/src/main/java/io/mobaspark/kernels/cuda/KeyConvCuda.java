package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Shape;

/**
 * Launchers of {@code kconv.cu} (kconv forward and backward, docs/moba.md): k, out, dOut, dk are
 * bf16 {@code [T, Hkv, D]} with D even; weight and dWeight {@code [Hkv, W, D]}
 * are fp32 (bf16 is converted through an fp32 copy in a reused scratch buffer); W is 1 to
 * {@value #MAX_WIDTH}, each width its own kernel ({@code kconv_forward_w3}, ...).
 */
final class KeyConvCuda implements AutoCloseable {
  /** The kernels are instantiated for widths up to this (KCONV(W) in kconv.cu). */
  static final int MAX_WIDTH = 5;
  /** Channels a thread moves with one 4-byte access (kPack in kconv.cu). */
  static final int PACK = 2;
  /** Tokens one forward thread converts (kForwardRun in kconv.cu). */
  static final int FORWARD_RUN = 8;
  static final int FORWARD_THREADS = 128;
  /** The backward CTA: 32 pairs (64 channels) by 8 sub-run lanes (kPackBlock, kSubRuns in kconv.cu). */
  static final int BACKWARD_PACKS = 32;
  static final int BACKWARD_LANES = 8;
  /** Threads of kconv_backward_weight, one per (tap, channel). */
  static final int WEIGHT_THREADS = 128;
  /**
   * The backward splits the tokens into at most this many chunks: the dWeight partials
   * {@code [chunks, W, C]} fp32 stay a few MiB at any T, and the chunking depends on T alone, so
   * dWeight adds in one fixed order (bitwise reproducible).
   */
  static final int MAX_CHUNKS = 512;
  static final int MIN_BACKWARD_RUN = 16;

  private final CudaContext context;
  private final CudaMemoryOps memory;
  private final ScratchBuffer partials; // [chunks, W, C] fp32
  private final ScratchBuffer weight32; // the fp32 copy of a bf16 weight
  private final ScratchBuffer dWeight32; // the fp32 copy of a bf16 dWeight

  KeyConvCuda(CudaContext context, CudaMemoryOps memory) {
    this.context = context;
    this.memory = memory;
    this.partials = new ScratchBuffer(context);
    this.weight32 = new ScratchBuffer(context);
    this.dWeight32 = new ScratchBuffer(context);
  }

  /** Checks shapes, dtypes and aliasing before any launch; returns W. */
  static int check(Shape k, DType kType, Shape weight, DType weightType, Shape out, DType outType,
      String outRole, SeqLayout layout) {
    int width = OpChecks.keyConvWidth(weight, k);
    if (width > MAX_WIDTH) {
      throw new IllegalArgumentException("kconv weight " + weight + " has width " + width
          + ": the CUDA kernels support widths 1 to " + MAX_WIDTH);
    }
    if (k.dim(2) % PACK != 0) {
      throw new IllegalArgumentException("kconv keys " + k + ": the CUDA kernels need an even head dim"
          + " (they move channels in pairs)");
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
    Fp32View w = Fp32View.of(memory, weight, weight32);
    long threads = (tokens + FORWARD_RUN - 1) / FORWARD_RUN * (channels / PACK);
    context.kernel("kconv", "kconv_forward_w" + width).launch(
        LaunchShape.of((threads + FORWARD_THREADS - 1) / FORWARD_THREADS, FORWARD_THREADS),
        new KernelArgs().ptr(out.buffer()).ptr(k.buffer()).ptr(w.buffer()).ptr(layout.cuSeqlens())
            .i32(layout.layout().sequences()).i64(tokens).i32(channels).i32(k.dim(2)));
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
    DeviceBuffer partial = partials.atLeast(4L * chunks * width * channels);
    Fp32View w = Fp32View.of(memory, weight, weight32);
    Fp32View dw = Fp32View.of(memory, dWeight, dWeight32);
    int packBlocks = (channels / PACK + BACKWARD_PACKS - 1) / BACKWARD_PACKS;
    context.kernel("kconv", "kconv_backward_tokens_w" + width).launch(
        new LaunchShape(chunks, packBlocks, 1, BACKWARD_PACKS, BACKWARD_LANES, 1, 0), new KernelArgs()
            .ptr(dk.buffer()).ptr(partial).ptr(dOut.buffer()).ptr(k.buffer()).ptr(w.buffer())
            .ptr(layout.cuSeqlens()).i32(layout.layout().sequences()).i64(tokens).i32(channels)
            .i32(k.dim(2)).i32(run));
    long taps = (long) width * channels;
    context.kernel("kconv", "kconv_backward_weight").launch(
        LaunchShape.of((taps + WEIGHT_THREADS - 1) / WEIGHT_THREADS, WEIGHT_THREADS), new KernelArgs()
            .ptr(dw.buffer()).ptr(partial).i32(chunks).i32(channels).i32(k.dim(2)).i32(width));
    dw.writeBack();
  }

  /** Tokens per backward chunk: at least {@value #MIN_BACKWARD_RUN}, at most {@value #MAX_CHUNKS} chunks. */
  static int backwardRun(int tokens) {
    int byChunks = (tokens + MAX_CHUNKS - 1) / MAX_CHUNKS;
    return Math.max(MIN_BACKWARD_RUN, byChunks);
  }

  @Override
  public void close() {
    partials.close();
    weight32.close();
    dWeight32.close();
  }
}
