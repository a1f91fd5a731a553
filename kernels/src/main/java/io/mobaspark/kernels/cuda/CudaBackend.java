package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.HostCopy;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Shape;
import io.mobaspark.kernels.Tensor;
import java.util.List;

/**
 * The CUDA backend: tensors in device memory (bf16 activations; fp32 master weights, moments,
 * parameter gradients, per-row statistics and centroids), fp32 arithmetic, every {@link Backend} op
 * on one stream of one device, on the project's own kernels (docs/backend.md, "The CUDA backend").
 */
public final class CudaBackend implements Backend {

  private final CudaContext context;
  private final CudaMemoryOps memory;
  private final KeyConvCuda keyConv;
  private final CentroidsCuda centroids;
  private final MobaRouterCuda mobaRouter;
  private final MobaAttentionCuda mobaAttention;
  private final GemmCuda gemm;
  private final EmbeddingCuda embedding;
  private final RmsNormCuda rmsNorm;
  private final RopeCuda rope;
  private final SwigluCuda swiglu;
  private final CrossEntropyCuda crossEntropy;
  private final AdamWCuda adamw;
  private final AsyncHostCopies hostCopies;
  private DeviceLayout layout; // the last packed layout, reused while it does not change

  /** Opens device {@code ordinal}; fails with the driver's error when there is none. */
  public CudaBackend(int ordinal) {
    this.context = CudaContext.open(ordinal);
    this.memory = new CudaMemoryOps(context);
    this.hostCopies = new AsyncHostCopies(context);
    this.keyConv = new KeyConvCuda(context, memory);
    this.centroids = new CentroidsCuda(context);
    this.mobaRouter = new MobaRouterCuda(context, centroids);
    this.mobaAttention = new MobaAttentionCuda(context);
    this.gemm = new GemmCuda(context);
    this.embedding = new EmbeddingCuda(context);
    this.rmsNorm = new RmsNormCuda(context);
    this.rope = new RopeCuda(context);
    this.swiglu = new SwigluCuda(context);
    this.crossEntropy = new CrossEntropyCuda(context);
    this.adamw = new AdamWCuda(context);
  }

  public CudaContext context() {
    return context;
  }

  @Override
  public String description() {
    return "cuda(bf16/fp32, " + context.device() + ")";
  }

  // ---- memory -----------------------------------------------------------------------------------

  /** A zero-filled bf16 tensor: the storage of activations. */
  @Override
  public Tensor tensor(String name, int... dims) {
    return tensor(name, DType.BF16, dims);
  }

  /** A zero-filled fp32 tensor: master weights, moments, parameter gradients, rstd, LSE, losses. */
  @Override
  public Tensor fp32Tensor(String name, int... dims) {
    return tensor(name, DType.F32, dims);
  }

  /** Activations are bf16 here: the model keeps bf16 compute copies of its fp32 weights. */
  @Override
  public boolean lowPrecisionActivations() {
    return true;
  }

  @Override
  public Tensor view(Tensor t, String name, int... dims) {
    return cuda(t).view(new Shape(name, dims));
  }

  /** A zero-filled tensor of the given dtype. */
  public CudaTensor tensor(String name, DType dtype, int... dims) {
    Shape shape = new Shape(name, dims);
    CudaTensor t = new CudaTensor(shape, dtype, context.allocate(shape.numel() * dtype.bytes()));
    t.buffer().zero();
    return t;
  }

  @Override
  public IntTensor intTensor(String name, int... dims) {
    Shape shape = new Shape(name, dims);
    CudaIntTensor t = new CudaIntTensor(shape, context.allocate(4 * shape.numel()));
    t.buffer().zero();
    return t;
  }

  /** Rounds each value to the tensor's dtype (round-to-nearest-even) and copies it to the device. */
  @Override
  public void write(Tensor dst, double[] src) {
    dst.shape().requireNumel(src.length);
    CudaTensor d = cuda(dst);
    if (d.dtype() == DType.BF16) {
      d.buffer().write(Bf16.fromDoubles(src));
    } else {
      float[] f = new float[src.length];
      for (int i = 0; i < f.length; i++) {
        f[i] = (float) src[i];
      }
      d.buffer().write(f);
    }
  }

  /** fp32 tensors take the floats as they are; bf16 ones round each (nearest even). */
  @Override
  public void write(Tensor dst, float[] src) {
    dst.shape().requireNumel(src.length);
    CudaTensor d = cuda(dst);
    if (d.dtype() == DType.F32) {
      d.buffer().write(src);
      return;
    }
    short[] bits = new short[src.length];
    for (int i = 0; i < bits.length; i++) {
      bits[i] = Bf16.fromFloat(src[i]);
    }
    d.buffer().write(bits);
  }

  /** fp32 tensors are copied as they are (no widening to double); bf16 ones widened to float. */
  @Override
  public void readFloats(Tensor src, float[] dst) {
    CudaTensor s = cuda(src);
    src.shape().requireNumel(dst.length);
    if (s.dtype() == DType.F32) {
      s.buffer().read(dst);
      return;
    }
    short[] bits = new short[dst.length];
    s.buffer().read(bits);
    for (int i = 0; i < dst.length; i++) {
      dst[i] = Bf16.toFloat(bits[i]);
    }
  }

  /**
   * fp32 tensors on the copy stream into pinned memory (AsyncHostCopies); others, and lists whose
   * sizes differ (the default names them), at once.
   */
  @Override
  public HostCopy readFloatsLater(List<? extends Tensor> src, List<float[]> dst) {
    List<CudaTensor> tensors = src.stream().map(CudaBackend::cuda).toList();
    if (src.size() != dst.size() || tensors.isEmpty()
        || tensors.stream().anyMatch(t -> t.dtype() != DType.F32)) {
      return Backend.super.readFloatsLater(src, dst);
    }
    return hostCopies.start(tensors, dst);
  }

  /** Page-locked host memory held for {@link #readFloatsLater}, in bytes. */
  public long pinnedHostBytes() {
    return hostCopies.pinnedBytes();
  }

  @Override
  public void write(IntTensor dst, int[] src) {
    dst.shape().requireNumel(src.length);
    cuda(dst).buffer().write(src);
  }

  @Override
  public double[] read(Tensor src) {
    CudaTensor s = cuda(src);
    int n = hostLength(src.shape());
    if (s.dtype() == DType.BF16) {
      short[] bits = new short[n];
      s.buffer().read(bits);
      return Bf16.toDoubles(bits);
    }
    float[] f = new float[n];
    s.buffer().read(f);
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = f[i];
    }
    return out;
  }

  @Override
  public int[] read(IntTensor src) {
    int[] out = new int[hostLength(src.shape())];
    cuda(src).buffer().read(out);
    return out;
  }

  @Override
  public void zero(Tensor t) {
    cuda(t).buffer().zero();
  }

  @Override
  public void zeroAll(java.util.List<? extends Tensor> tensors) {
    memory.zeroAll(cudaList(tensors));
  }

  @Override
  public void copyAll(java.util.List<? extends Tensor> dst, java.util.List<? extends Tensor> src) {
    memory.copyAll(cudaList(dst), cudaList(src));
  }

  /** {@code dst = src}, converting when the dtypes differ. */
  @Override
  public void copy(Tensor dst, Tensor src) {
    OpChecks.sameNumel(dst.shape(), src.shape());
    memory.copy(cuda(dst), cuda(src));
  }

  @Override
  public void addInPlace(Tensor dst, Tensor src) {
    OpChecks.sameNumel(dst.shape(), src.shape());
    memory.add(cuda(dst), cuda(src));
  }

  @Override
  public void scale(Tensor t, double factor) {
    memory.scale(cuda(t), factor);
  }

  @Override
  public double sumOfSquares(Tensor t) {
    return memory.sumOfSquares(cuda(t));
  }

  /** Every tensor's two reduction passes queued back to back, then one read of all the sums. */
  @Override
  public double[] sumsOfSquares(java.util.List<? extends Tensor> tensors) {
    return memory.sumsOfSquares(cudaList(tensors));
  }

  @Override
  public boolean allFinite(Tensor t) {
    return memory.allFinite(cuda(t));
  }

  // ---- kconv and centroids ----------------------------------------------------------------------

  /** k, out bf16 {@code [T, Hkv, D]}; weight fp32 or bf16 {@code [Hkv, W, D]}, W at most 5. */
  @Override
  public void keyConvForward(Tensor out, Tensor k, Tensor weight, SeqLayout layout) {
    keyConv.forward(cuda(out), cuda(k), cuda(weight), deviceLayout(layout));
  }

  /** dk, dOut, k bf16; weight and dWeight (accumulated) fp32 or bf16. */
  @Override
  public void keyConvBackward(Tensor dk, Tensor dWeight, Tensor dOut, Tensor k, Tensor weight,
      SeqLayout layout) {
    keyConv.backward(cuda(dk), cuda(dWeight), cuda(dOut), cuda(k), cuda(weight),
        deviceLayout(layout));
  }

  /**
   * The MoBA block centroids of bf16 keys {@code k [T, Hkv, D]}: out fp32 {@code [blocks, Hkv, D]},
   * blocks of {@code blockSize} keys restarting at every sequence start, numbered across the batch
   * (the router's first stage; docs/moba.md, Routing, rules 1-2).
   */
  public void blockCentroids(Tensor out, Tensor k, int blockSize, SeqLayout layout) {
    centroids.compute(cuda(out), cuda(k), blockSize, deviceLayout(layout));
  }

  // ---- MoBA attention (MobaRouterCuda, MobaAttentionCuda; docs/moba-cuda.md) -----------------

  /** q, k bf16; routing int {@code [H, T, topk]} in the Backend's layout. */
  @Override
  public void mobaRoute(IntTensor routing, Tensor q, Tensor k, AttentionConfig config,
      SeqLayout layout) {
    mobaRouter.route(cuda(routing), cuda(q), cuda(k), config, deviceLayout(layout));
  }

  /**
   * MOBA, DENSE and SLIDING on the MoBA kernels (DENSE as MoBA with one block per sequence, SLIDING
   * on that layout with each row's window as the lower bound of its keys; docs/moba-cuda.md); q, k,
   * v, out bf16, lse fp32 ({@code tensor(name, DType.F32, H, T)}); routing only for MOBA.
   */
  @Override
  public void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
      IntTensor routing, AttentionConfig config, SeqLayout layout) {
    mobaAttention.forward(cuda(out), cuda(lse), cuda(q), cuda(k), cuda(v),
        routing == null ? null : cuda(routing), config, deviceLayout(layout));
  }

  /** dq, dk, dv overwritten (bf16); dQ is summed with fp32 atomics, so only it varies by rounding. */
  @Override
  public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dOut, Tensor q, Tensor k,
      Tensor v, Tensor out, Tensor lse, IntTensor routing, AttentionConfig config,
      SeqLayout layout) {
    mobaAttention.backward(cuda(dq), cuda(dk), cuda(dv), cuda(dOut), cuda(q), cuda(k), cuda(v),
        cuda(out), cuda(lse), routing == null ? null : cuda(routing), config, deviceLayout(layout));
  }

  /**
   * Slices later MoBA and DENSE attention calls under {@code bytes} of forward partials or backward
   * dQ accumulator instead of the policy's max(4% of the q, k, v bytes, 512 MiB) ({@link
   * MobaSlicing}); 0 restores the policy. For the labs: a tiny budget cuts small problems into many
   * slices, whose results must equal one slice's.
   */
  public void setMobaSliceBudget(long bytes) {
    mobaAttention.sliceBudget(bytes);
  }

  /**
   * Pads later matmuls with misaligned rows onto the wgmma kernel from {@code minFlops} on, in chunks
   * of at most {@code chunkElements} padded elements ({@link GemmAlignment}; defaults 1e10 and 2^28).
   * For the labs: small products in many chunks must equal the unpadded product.
   */
  public void setGemmPadding(long chunkElements, double minFlops) {
    gemm.padding(chunkElements, minFlops);
  }

  /**
   * Which persistent GEMM kernel later aligned matmuls run on sm_90a ({@link GemmCuda.HopperKernel};
   * {@code HopperKernel.DEFAULT}, or system property {@value GemmCuda#HOPPER_PROPERTY}). For the labs
   * and MatmulParity: every kernel at one shape.
   */
  public void setGemmKernel(GemmCuda.HopperKernel choice) {
    gemm.hopperKernel(choice);
  }

  // ---- ops that later issues bring --------------------------------------------------------------

  @Override
  public void embeddingForward(Tensor out, IntTensor tokens, Tensor table) {
    embedding.forward(cuda(out), cuda(tokens), cuda(table));
  }

  @Override
  public void embeddingBackward(Tensor dTable, Tensor dOut, IntTensor tokens) {
    embedding.backward(cuda(dTable), cuda(dOut), cuda(tokens));
  }

  @Override
  public void rmsNormForward(Tensor out, Tensor rstd, Tensor x, Tensor weight, double eps) {
    rmsNorm.forward(cuda(out), cuda(rstd), cuda(x), cuda(weight), eps);
  }

  @Override
  public void rmsNormBackward(Tensor dx, Tensor dWeight, Tensor dOut, Tensor x, Tensor weight,
      Tensor rstd) {
    rmsNorm.backward(cuda(dx), cuda(dWeight), cuda(dOut), cuda(x), cuda(weight), cuda(rstd));
  }

  @Override
  public void ropeForward(Tensor out, Tensor x, IntTensor positions, int heads, double theta) {
    rope.rotate(cuda(out), cuda(x), cuda(positions), heads, theta, 1);
  }

  @Override
  public void ropeBackward(Tensor dx, Tensor dOut, IntTensor positions, int heads, double theta) {
    rope.rotate(cuda(dx), cuda(dOut), cuda(positions), heads, theta, -1);
  }

  @Override
  public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB,
      boolean accumulate) {
    gemm.matmul(cuda(out), cuda(a), cuda(b), transA, transB, accumulate);
  }

  /** In one launch where {@link GemmCuda#matmulAdd} applies, else the default's copy and +=. */
  @Override
  public void matmulAdd(Tensor out, Tensor addend, Tensor a, Tensor b, boolean transA,
      boolean transB) {
    if (!gemm.matmulAdd(cuda(out), cuda(addend), cuda(a), cuda(b), transA, transB)) {
      Backend.super.matmulAdd(out, addend, a, b, transA, transB);
    }
  }

  @Override
  public void swigluForward(Tensor out, Tensor gate, Tensor up) {
    swiglu.forward(cuda(out), cuda(gate), cuda(up));
  }

  /**
   * gate, up and act in one GEMM launch where it can run ({@link #swigluProjectionsFused}), the
   * default's two matmuls and {@link #swigluForward} elsewhere or with system property {@value
   * #SWIGLU_FUSION_PROPERTY} = false. The same bits either way.
   */
  @Override
  public void swigluProjections(Tensor act, Tensor gate, Tensor up, Tensor x, Tensor wGate,
      Tensor wUp) {
    if (!swigluFusion || !swigluProjectionsFused(act, gate, up, x, wGate, wUp, true)) {
      Backend.super.swigluProjections(act, gate, up, x, wGate, wUp);
    }
  }

  /** "false" runs the MLP's input half unfused (labs: the fused kernel's saving in a whole step). */
  public static final String SWIGLU_FUSION_PROPERTY = "mobaspark.swiglu.fused";

  private final boolean swigluFusion = !"false".equals(System.getProperty(SWIGLU_FUSION_PROPERTY));

  /**
   * act = SwiGLU(gate, up) and, when saveGateUp, gate and up themselves, in one GEMM launch
   * ({@code GemmCuda.swigluProjections}): the same bits as two matmuls and swigluForward. Without
   * saveGateUp gate and up are not touched (may be null). Returns false, doing nothing, where it
   * cannot run: no sm_90a image, C or F not a multiple of 8, a tensor not a bf16 matrix.
   */
  public boolean swigluProjectionsFused(Tensor act, Tensor gate, Tensor up, Tensor x,
      Tensor wGate, Tensor wUp, boolean saveGateUp) {
    Tensor[] used = saveGateUp ? new Tensor[] {act, gate, up, x, wGate, wUp}
        : new Tensor[] {act, x, wGate, wUp};
    for (Tensor t : used) {
      if (t.shape().rank() != 2 || cuda(t).dtype() != DType.BF16) {
        return false;
      }
    }
    if (!gemm.swigluFusable(x.shape().dim(1), wGate.shape().dim(0))) {
      return false;
    }
    gemm.swigluProjections(cuda(act), saveGateUp ? cuda(gate) : null, saveGateUp ? cuda(up) : null,
        cuda(x), cuda(wGate), cuda(wUp), saveGateUp);
    return true;
  }

  @Override
  public void swigluBackward(Tensor dGate, Tensor dUp, Tensor dOut, Tensor gate, Tensor up) {
    swiglu.backward(cuda(dGate), cuda(dUp), cuda(dOut), cuda(gate), cuda(up));
  }

  @Override
  public void crossEntropy(Tensor losses, Tensor dLogits, Tensor logits, IntTensor targets,
      double gradScale) {
    crossEntropy.run(cuda(losses), dLogits == null ? null : cuda(dLogits), cuda(logits),
        cuda(targets), gradScale);
  }


  @Override
  public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1,
      double beta2, double eps, double weightDecay, int step) {
    adamw.step(cuda(param), cuda(grad), cuda(m), cuda(v), lr, beta1, beta2, eps, weightDecay, step);
  }

  @Override
  public void adamwAll(java.util.List<? extends Tensor> params, java.util.List<? extends Tensor> grads,
      java.util.List<? extends Tensor> m, java.util.List<? extends Tensor> v, double gradScale,
      double lr, double beta1, double beta2, double eps, double[] weightDecays, int step) {
    adamw.stepAll(cudaList(params), cudaList(grads), cudaList(m), cudaList(v), gradScale, lr, beta1,
        beta2, eps, weightDecays, step);
  }

  @Override
  public void close() {
    // Every step even after a sticky CUDA error, so that the context is released (CloseAll).
    CloseAll.run(context::synchronize, () -> {
      if (layout != null) {
        layout.close();
      }
    }, keyConv::close, mobaRouter::close, mobaAttention::close, gemm::close, rmsNorm::close,
        adamw::close, memory::close, hostCopies::close, context::close);
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private DeviceLayout deviceLayout(SeqLayout l) {
    if (layout == null || !layout.layout().equals(l)) {
      if (layout != null) {
        layout.close();
      }
      layout = new DeviceLayout(context, l);
    }
    return layout;
  }

  private static int hostLength(Shape shape) {
    if (shape.numel() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("tensor " + shape + " is too large to copy into one Java array");
    }
    return (int) shape.numel();
  }

  private static CudaTensor cuda(Tensor t) {
    if (t instanceof CudaTensor c) {
      return c;
    }
    throw new IllegalArgumentException("tensor " + t.shape() + " does not belong to the CUDA backend ("
        + t.getClass().getName() + ")");
  }

  private static java.util.List<CudaTensor> cudaList(java.util.List<? extends Tensor> tensors) {
    return tensors.stream().map(CudaBackend::cuda).toList();
  }

  private static CudaIntTensor cuda(IntTensor t) {
    if (t instanceof CudaIntTensor c) {
      return c;
    }
    throw new IllegalArgumentException("tensor " + t.shape() + " does not belong to the CUDA backend ("
        + t.getClass().getName() + ")");
  }
}
