package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Shape;
import io.mobaspark.kernels.Tensor;

/**
 * The pure-Java reference backend: the ground truth every GPU kernel is tested against. Each op lives
 * in its own class ({@code *Cpu}); this class validates operands, dispatches, and rounds results to
 * float32 when the backend stores float32.
 */
public final class CpuBackend implements Backend {
  private final Precision precision;
  private final Parallel parallel;

  public CpuBackend(Precision precision, int threads) {
    if (precision == null) {
      throw new IllegalArgumentException("precision must be given");
    }
    this.precision = precision;
    this.parallel = new Parallel(threads);
  }

  /** float32 storage on every available core: the training default. */
  public static CpuBackend float32() {
    return new CpuBackend(Precision.FLOAT32, Runtime.getRuntime().availableProcessors());
  }

  /** float64 storage: for gradient checks and the float64 reference of GPU parity tests. */
  public static CpuBackend float64() {
    return new CpuBackend(Precision.FLOAT64, Runtime.getRuntime().availableProcessors());
  }

  public Precision precision() {
    return precision;
  }

  @Override
  public String description() {
    return "cpu(" + precision.name().toLowerCase(java.util.Locale.ROOT) + ", " + parallel.threads()
        + " threads)";
  }

  // ---- memory -----------------------------------------------------------------------------------

  @Override
  public Tensor tensor(String name, int... dims) {
    return new CpuTensor(new Shape(name, dims));
  }

  @Override
  public Tensor view(Tensor t, String name, int... dims) {
    return new CpuTensor(new Shape(name, dims), data(t));
  }

  /** The same storage as {@link #tensor}: activations are float32 or float64 here already. */
  @Override
  public Tensor fp32Tensor(String name, int... dims) {
    return tensor(name, dims);
  }

  @Override
  public boolean lowPrecisionActivations() {
    return false;
  }

  @Override
  public IntTensor intTensor(String name, int... dims) {
    return new CpuIntTensor(new Shape(name, dims));
  }

  @Override
  public void write(Tensor dst, float[] src) {
    dst.shape().requireNumel(src.length);
    double[] d = data(dst);
    for (int i = 0; i < src.length; i++) {
      d[i] = src[i];
    }
  }

  @Override
  public void readFloats(Tensor src, float[] dst) {
    double[] d = data(src);
    src.shape().requireNumel(dst.length);
    for (int i = 0; i < d.length; i++) {
      dst[i] = (float) d[i];
    }
  }

  @Override
  public void write(Tensor dst, double[] src) {
    dst.shape().requireNumel(src.length);
    double[] d = data(dst);
    System.arraycopy(src, 0, d, 0, src.length);
    round(d);
  }

  @Override
  public void write(IntTensor dst, int[] src) {
    dst.shape().requireNumel(src.length);
    System.arraycopy(src, 0, data(dst), 0, src.length);
  }

  @Override
  public double[] read(Tensor src) {
    return data(src).clone();
  }

  @Override
  public int[] read(IntTensor src) {
    return data(src).clone();
  }

  @Override
  public void zero(Tensor t) {
    java.util.Arrays.fill(data(t), 0.0);
  }

  @Override
  public void copy(Tensor dst, Tensor src) {
    OpChecks.sameNumel(dst.shape(), src.shape());
    System.arraycopy(data(src), 0, data(dst), 0, data(src).length);
  }

  @Override
  public void addInPlace(Tensor dst, Tensor src) {
    OpChecks.sameNumel(dst.shape(), src.shape());
    double[] d = data(dst);
    double[] s = data(src);
    parallel.forRange(d.length, 1 << 14, (a, b) -> {
      for (int i = a; i < b; i++) {
        d[i] += s[i];
      }
    });
    round(d);
  }

  @Override
  public void scale(Tensor t, double factor) {
    double[] d = data(t);
    parallel.forRange(d.length, 1 << 14, (a, b) -> {
      for (int i = a; i < b; i++) {
        d[i] *= factor;
      }
    });
    round(d);
  }

  @Override
  public double[] sumsOfSquares(java.util.List<? extends Tensor> tensors) {
    double[] sums = new double[tensors.size()];
    for (int i = 0; i < sums.length; i++) {
      sums[i] = sumOfSquares(tensors.get(i));
    }
    return sums;
  }

  @Override
  public double sumOfSquares(Tensor t) {
    double[] d = data(t);
    return parallel.sum(d.length, (a, b) -> {
      double s = 0;
      for (int i = a; i < b; i++) {
        s += d[i] * d[i];
      }
      return s;
    });
  }

  @Override
  public boolean allFinite(Tensor t) {
    for (double x : data(t)) {
      if (!Double.isFinite(x)) {
        return false;
      }
    }
    return true;
  }

  // ---- ops --------------------------------------------------------------------------------------

  @Override
  public void embeddingForward(Tensor out, IntTensor tokens, Tensor table) {
    OpChecks.requireRank(table.shape(), 2);
    int tokenCount = (int) tokens.numel();
    int channels = table.dim(1);
    out.shape().require(tokenCount, channels);
    EmbeddingCpu.forward(parallel, data(out), data(tokens), data(table), tokenCount, channels,
        table.dim(0));
    round(data(out));
  }

  @Override
  public void embeddingBackward(Tensor dTable, Tensor dOut, IntTensor tokens) {
    OpChecks.requireRank(dTable.shape(), 2);
    int tokenCount = (int) tokens.numel();
    int channels = dTable.dim(1);
    dOut.shape().require(tokenCount, channels);
    EmbeddingCpu.backward(parallel, data(dTable), data(dOut), data(tokens), tokenCount, channels,
        dTable.dim(0));
    round(data(dTable));
  }

  @Override
  public void rmsNormForward(Tensor out, Tensor rstd, Tensor x, Tensor weight, double eps) {
    OpChecks.requireRank(x.shape(), 2);
    int rows = x.dim(0);
    int cols = x.dim(1);
    out.shape().require(rows, cols);
    rstd.shape().require(rows);
    weight.shape().require(cols);
    if (!(eps > 0)) {
      throw new IllegalArgumentException("RMSNorm eps must be positive, got " + eps);
    }
    RmsNormCpu.forward(parallel, data(out), data(rstd), data(x), data(weight), rows, cols, eps);
    round(data(out));
    round(data(rstd));
  }

  @Override
  public void rmsNormBackward(Tensor dx, Tensor dWeight, Tensor dOut, Tensor x, Tensor weight,
      Tensor rstd) {
    OpChecks.requireRank(x.shape(), 2);
    int rows = x.dim(0);
    int cols = x.dim(1);
    dx.shape().require(rows, cols);
    dOut.shape().require(rows, cols);
    dWeight.shape().require(cols);
    weight.shape().require(cols);
    rstd.shape().require(rows);
    RmsNormCpu.backward(parallel, data(dx), data(dWeight), data(dOut), data(x), data(weight),
        data(rstd), rows, cols);
    round(data(dx));
    round(data(dWeight));
  }

  @Override
  public void ropeForward(Tensor out, Tensor x, IntTensor positions, int heads, double theta) {
    int[] dims = ropeDims(out, x, positions, heads);
    RopeCpu.forward(parallel, data(out), data(x), data(positions), dims[0], heads, dims[1], theta);
    round(data(out));
  }

  @Override
  public void ropeBackward(Tensor dx, Tensor dOut, IntTensor positions, int heads, double theta) {
    int[] dims = ropeDims(dx, dOut, positions, heads);
    RopeCpu.backward(parallel, data(dx), data(dOut), data(positions), dims[0], heads, dims[1],
        theta);
    round(data(dx));
  }

  /** {@code [T, D]} of a RoPE call on {@code [T, heads, D]} tensors. */
  private static int[] ropeDims(Tensor out, Tensor in, IntTensor positions, int heads) {
    OpChecks.requireRank(in.shape(), 3);
    int tokens = in.dim(0);
    int headDim = in.dim(2);
    in.shape().require(tokens, heads, headDim);
    out.shape().require(tokens, heads, headDim);
    positions.shape().require(tokens);
    if (headDim % 2 != 0) {
      throw new IllegalArgumentException("RoPE needs an even head dim, got " + in.shape());
    }
    return new int[] {tokens, headDim};
  }

  @Override
  public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB,
      boolean accumulate) {
    int[] mnk = OpChecks.matmul(out.shape(), a.shape(), b.shape(), transA, transB);
    MatmulCpu.matmul(parallel, data(out), data(a), data(b), mnk[0], mnk[1], mnk[2], transA, transB,
        accumulate);
    round(data(out));
  }

  @Override
  public void swigluForward(Tensor out, Tensor gate, Tensor up) {
    gate.shape().require(up.shape().dims());
    out.shape().require(gate.shape().dims());
    SwigluCpu.forward(parallel, data(out), data(gate), data(up));
    round(data(out));
  }

  @Override
  public void swigluBackward(Tensor dGate, Tensor dUp, Tensor dOut, Tensor gate, Tensor up) {
    gate.shape().require(up.shape().dims());
    dOut.shape().require(gate.shape().dims());
    dGate.shape().require(gate.shape().dims());
    dUp.shape().require(gate.shape().dims());
    SwigluCpu.backward(parallel, data(dGate), data(dUp), data(dOut), data(gate), data(up));
    round(data(dGate));
    round(data(dUp));
  }

  @Override
  public void crossEntropy(Tensor losses, Tensor dLogits, Tensor logits, IntTensor targets,
      double gradScale) {
    OpChecks.requireRank(logits.shape(), 2);
    int rows = logits.dim(0);
    int vocab = logits.dim(1);
    losses.shape().require(rows);
    targets.shape().require(rows);
    if (dLogits != null) {
      dLogits.shape().require(rows, vocab);
    }
    CrossEntropyCpu.run(parallel, data(losses), dLogits == null ? null : data(dLogits),
        data(logits), data(targets), rows, vocab, gradScale);
    round(data(losses));
    if (dLogits != null) {
      round(data(dLogits));
    }
  }

  @Override
  public void mobaRoute(IntTensor routing, Tensor q, Tensor k, AttentionConfig config,
      SeqLayout layout) {
    requireKind(config, AttentionKind.MOBA, "mobaRoute");
    int tokens = OpChecks.attentionTokens(q.shape(), k.shape(), k.shape(), config, layout);
    OpChecks.routing(routing.shape(), config, tokens);
    MobaRouterCpu.route(parallel, data(routing), data(q), data(k), config, layout);
  }

  @Override
  public void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
      IntTensor routing, AttentionConfig config, SeqLayout layout) {
    int tokens = OpChecks.attentionTokens(q.shape(), k.shape(), v.shape(), config, layout);
    OpChecks.routing(routing == null ? null : routing.shape(), config, tokens);
    out.shape().require(q.shape().dims());
    lse.shape().require(config.heads(), tokens);
    AttentionCpu.forward(parallel, data(out), data(lse), data(q), data(k), data(v),
        routing == null ? null : data(routing), config, layout);
    round(data(out));
    round(data(lse));
  }

  @Override
  public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dOut, Tensor q, Tensor k,
      Tensor v, Tensor out, Tensor lse, IntTensor routing, AttentionConfig config,
      SeqLayout layout) {
    int tokens = OpChecks.attentionTokens(q.shape(), k.shape(), v.shape(), config, layout);
    OpChecks.routing(routing == null ? null : routing.shape(), config, tokens);
    dq.shape().require(q.shape().dims());
    dk.shape().require(k.shape().dims());
    dv.shape().require(v.shape().dims());
    dOut.shape().require(q.shape().dims());
    out.shape().require(q.shape().dims());
    lse.shape().require(config.heads(), tokens);
    AttentionCpu.backward(parallel, data(dq), data(dk), data(dv), data(dOut), data(q), data(k),
        data(v), data(out), data(lse), routing == null ? null : data(routing), config, layout);
    round(data(dq));
    round(data(dk));
    round(data(dv));
  }

  @Override
  public void keyConvForward(Tensor out, Tensor k, Tensor weight, SeqLayout layout) {
    int width = OpChecks.keyConvWidth(weight.shape(), k.shape());
    out.shape().require(k.shape().dims());
    layout.requireTokens(k.dim(0), "tensor " + k.shape());
    KeyConvCpu.forward(parallel, data(out), data(k), data(weight), k.dim(1), k.dim(2), width,
        layout);
    round(data(out));
  }

  @Override
  public void keyConvBackward(Tensor dk, Tensor dWeight, Tensor dOut, Tensor k, Tensor weight,
      SeqLayout layout) {
    int width = OpChecks.keyConvWidth(weight.shape(), k.shape());
    dk.shape().require(k.shape().dims());
    dOut.shape().require(k.shape().dims());
    dWeight.shape().require(weight.shape().dims());
    layout.requireTokens(k.dim(0), "tensor " + k.shape());
    KeyConvCpu.backward(parallel, data(dk), data(dWeight), data(dOut), data(k), data(weight),
        k.dim(1), k.dim(2), width, layout);
    round(data(dk));
    round(data(dWeight));
  }

  @Override
  public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1,
      double beta2, double eps, double weightDecay, int step) {
    grad.shape().require(param.shape().dims());
    m.shape().require(param.shape().dims());
    v.shape().require(param.shape().dims());
    if (step < 1) {
      throw new IllegalArgumentException("AdamW step is 1-based, got " + step);
    }
    AdamWCpu.step(parallel, data(param), data(grad), data(m), data(v), lr, beta1, beta2, eps,
        weightDecay, step);
    round(data(param));
    round(data(m));
    round(data(v));
  }

  @Override
  public void close() {
    parallel.close();
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private static void requireKind(AttentionConfig config, AttentionKind kind, String op) {
    if (config.kind() != kind) {
      throw new IllegalArgumentException(op + " needs " + kind + " attention, got " + config.kind());
    }
  }

  /** Float32 storage: round every stored value to the nearest float. */
  private void round(double[] values) {
    if (precision != Precision.FLOAT32) {
      return;
    }
    parallel.forRange(values.length, 1 << 15, (a, b) -> {
      for (int i = a; i < b; i++) {
        values[i] = (float) values[i];
      }
    });
  }

  private static double[] data(Tensor t) {
    if (t instanceof CpuTensor c) {
      return c.data;
    }
    throw new IllegalArgumentException(
        "tensor " + t.shape() + " does not belong to the CPU backend (" + t.getClass().getName() + ")");
  }

  private static int[] data(IntTensor t) {
    if (t instanceof CpuIntTensor c) {
      return c.data;
    }
    throw new IllegalArgumentException(
        "tensor " + t.shape() + " does not belong to the CPU backend (" + t.getClass().getName() + ")");
  }
}
