package io.mobaspark.kernels;

/**
 * The compute interface the model is written against, llm.c style: explicit forward and backward per
 * op on preallocated tensors, no autograd. Shapes use {@code T} tokens (all sequences of a batch
 * packed end to end, see {@link SeqLayout}), {@code C} channels, {@code V} vocabulary, {@code F} FFN
 * width, {@code H}/{@code Hkv} query/KV heads and {@code D} head dim.
 *
 * <p>Conventions that hold for every op:
 * <ul>
 *   <li>Outputs are overwritten unless the parameter is documented as <em>accumulated</em> ({@code +=}):
 *       parameter gradients always accumulate, so gradient accumulation over micro-batches is free.
 *   <li>Every op validates its operands' shapes before touching memory and throws
 *       {@link IllegalArgumentException} naming the offending tensor and its shape.
 *   <li>Results do not depend on the number of threads (fixed reduction order), so training is
 *       reproducible step for step.
 * </ul>
 * The exact math (norm epsilon, RoPE convention, SwiGLU order, MoBA routing rules) is specified in
 * {@code docs/model.md} and {@code docs/moba.md}; the CPU backend is its executable definition.
 */
public interface Backend extends AutoCloseable {

  /** Short name for logs, e.g. {@code cpu(float32, 2 threads)}. */
  String description();

  // ---- memory -----------------------------------------------------------------------------------

  /**
   * A zero-filled activation tensor, stored in the backend's activation precision (bf16 on CUDA,
   * the CPU backend's {@link Precision}).
   */
  Tensor tensor(String name, int... dims);

  /**
   * A zero-filled tensor stored in at least float32: master weights, optimizer moments, parameter
   * gradients and per-row statistics (RMSNorm's rstd, attention's LSE, per-token losses), whose
   * precision training depends on. The same as {@link #tensor} where activations are float32 already.
   */
  Tensor fp32Tensor(String name, int... dims);

  /**
   * True when {@link #tensor} stores below float32 (bf16 on CUDA). The model then keeps a
   * low-precision compute copy of each weight beside its fp32 master (mixed precision, docs/model.md).
   */
  boolean lowPrecisionActivations();

  /**
   * The same elements under another shape, without a copy: {@code view}'s element {@code i} in
   * row-major order is {@code t}'s element {@code i}, writes through either are seen through both, and
   * closing the view frees nothing ({@code t} owns the storage). The model's {@code [T, H, D]} heads
   * and the {@code [T, H*D]} operands of its matmuls are views of each other.
   */
  Tensor view(Tensor t, String name, int... dims);

  /** A zero-filled integer tensor. */
  IntTensor intTensor(String name, int... dims);

  /** Copies host values into {@code dst}; {@code src.length} must equal {@code dst.numel()}. */
  void write(Tensor dst, double[] src);

  void write(IntTensor dst, int[] src);

  /** A host copy of {@code src}. */
  double[] read(Tensor src);

  /**
   * {@code src} rounded to float, into {@code dst} of exactly its element count: for gradients on
   * their way to the exchange, which carries at most fp32, so that a device backend copies fp32
   * tensors without widening them, into host buffers the caller keeps from step to step.
   */
  void readFloats(Tensor src, float[] dst);

  /**
   * Starts {@link #readFloats(Tensor, float[])} of each of {@code src} into the array of {@code dst}
   * at the same index, without waiting: a device backend copies as soon as the work queued so far
   * has written the tensors, beside the work queued after it, so that the copy overlaps the compute.
   * Neither the tensors nor the arrays may be written before {@link HostCopy#await} returns. The
   * default copies at once.
   */
  default HostCopy readFloatsLater(java.util.List<? extends Tensor> src, java.util.List<float[]> dst) {
    if (src.size() != dst.size()) {
      throw new IllegalArgumentException(src.size() + " tensors but " + dst.size() + " arrays");
    }
    for (int i = 0; i < src.size(); i++) {
      readFloats(src.get(i), dst.get(i));
    }
    return HostCopy.DONE;
  }

  /** {@link #readFloats(Tensor, float[])} into a new array. */
  default float[] readFloats(Tensor src) {
    if (src.numel() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("tensor '" + src.name() + "' has " + src.numel()
          + " elements, more than one host array holds");
    }
    float[] out = new float[(int) src.numel()];
    readFloats(src, out);
    return out;
  }

  /** Copies float host values into {@code dst} (rounded to its storage); same element count. */
  void write(Tensor dst, float[] src);

  int[] read(IntTensor src);

  void zero(Tensor t);

  /** {@link #zero} of every tensor (a step's gradients); a backend may zero them in one pass. */
  default void zeroAll(java.util.List<? extends Tensor> tensors) {
    for (Tensor t : tensors) {
      zero(t);
    }
  }

  /** {@code dst = src}; same element count. */
  void copy(Tensor dst, Tensor src);

  /**
   * {@link #copy} of every pair {@code dst[i] = src[i]} of equally long lists (a model's compute
   * copies of its weights); this default copies them one by one, a backend may do all in one pass.
   */
  default void copyAll(java.util.List<? extends Tensor> dst, java.util.List<? extends Tensor> src) {
    if (dst.size() != src.size()) {
      throw new IllegalArgumentException("copyAll needs as many sources as destinations, got "
          + src.size() + " and " + dst.size());
    }
    for (int i = 0; i < dst.size(); i++) {
      copy(dst.get(i), src.get(i));
    }
  }

  /** {@code dst += src}; same element count. Also the backward of a residual add. */
  void addInPlace(Tensor dst, Tensor src);

  /** {@code t *= factor}. */
  void scale(Tensor t, double factor);

  /** Sum of squares of all elements, accumulated in double: global gradient norm. */
  double sumOfSquares(Tensor t);

  /**
   * {@link #sumOfSquares} of each tensor, in order, in one round trip: the training step's gradient
   * norm over every parameter, whose NaN or infinity also reveals a non-finite gradient. A device
   * backend waits for the device once here instead of once per tensor.
   */
  double[] sumsOfSquares(java.util.List<? extends Tensor> tensors);

  /** True when every element is finite (no NaN, no infinity). */
  boolean allFinite(Tensor t);

  // ---- embedding --------------------------------------------------------------------------------

  /** {@code out[t, :] = table[tokens[t], :]}. out {@code [T, C]}, tokens {@code [T]}, table {@code [V, C]}. */
  void embeddingForward(Tensor out, IntTensor tokens, Tensor table);

  /** dTable (accumulated) {@code [V, C]} {@code += } scatter of dOut {@code [T, C]} by tokens. */
  void embeddingBackward(Tensor dTable, Tensor dOut, IntTensor tokens);

  // ---- RMSNorm ----------------------------------------------------------------------------------

  /**
   * {@code out = x * rstd * weight}, {@code rstd = 1/sqrt(mean(x^2) + eps)} per row.
   * out, x {@code [T, C]}; weight {@code [C]}; rstd (saved for backward) {@code [T]}.
   */
  void rmsNormForward(Tensor out, Tensor rstd, Tensor x, Tensor weight, double eps);

  /** dx (accumulated) {@code [T, C]}, dWeight (accumulated) {@code [C]}. */
  void rmsNormBackward(Tensor dx, Tensor dWeight, Tensor dOut, Tensor x, Tensor weight, Tensor rstd);

  // ---- RoPE -------------------------------------------------------------------------------------

  /**
   * Rotary embedding, rotate-half (GPT-NeoX / Llama HF) convention: for pair {@code i < D/2},
   * {@code (x[i], x[i+D/2])} rotates by angle {@code pos * theta^(-2i/D)}. x, out {@code [T, heads, D]}
   * (may be the same tensor); positions {@code [T]} restart at 0 in each sequence.
   */
  void ropeForward(Tensor out, Tensor x, IntTensor positions, int heads, double theta);

  /** The transpose rotation; dx (overwritten, may be dOut itself) {@code [T, heads, D]}. */
  void ropeBackward(Tensor dx, Tensor dOut, IntTensor positions, int heads, double theta);

  // ---- matmul -----------------------------------------------------------------------------------

  /**
   * {@code out = op(a) @ op(b)} (or {@code out += ...} when {@code accumulate}), where
   * {@code op(a)} is {@code [M, K]} ({@code a} is {@code [K, M]} when {@code transA}) and
   * {@code op(b)} is {@code [K, N]} ({@code b} is {@code [N, K]} when {@code transB}); out {@code [M, N]}.
   * A linear layer {@code y = x W^T} with PyTorch's {@code W [out, in]} is
   * {@code matmul(y, x, W, false, true, false)}; its backward is {@code dx += dy W} and
   * {@code dW += dy^T x}.
   */
  void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, boolean accumulate);

  /**
   * {@code out = addend + op(a) @ op(b)}, {@link #matmul}'s shapes, addend {@code [M, N]} like out: a
   * residual add ({@code mid = x + attn_out wo^T}) that leaves the stream's input {@code x} in place.
   * This default copies addend into out and accumulates; a backend may read addend in the product's
   * epilogue instead (the CUDA backend's tma3st kernel), with the same rounding: one, of the sum.
   */
  default void matmulAdd(Tensor out, Tensor addend, Tensor a, Tensor b, boolean transA,
      boolean transB) {
    copy(out, addend);
    matmul(out, a, b, transA, transB, true);
  }

  // ---- SwiGLU -----------------------------------------------------------------------------------

  /** {@code out = silu(gate) * up}, {@code silu(g) = g * sigmoid(g)}. All {@code [T, F]}. */
  void swigluForward(Tensor out, Tensor gate, Tensor up);

  /**
   * The MLP's input half: {@code gate = x wGate^T}, {@code up = x wUp^T} and {@code act = silu(gate)
   * * up}, all {@code [T, F]} (overwritten), for x {@code [T, C]} and the weights {@code [F, C]}. This
   * default is the two matmuls and {@link #swigluForward}; a backend may produce the same three in
   * one pass (the CUDA backend: SwiGLU in the GEMM's epilogue, docs/gemm-cuda.md).
   */
  default void swigluProjections(Tensor act, Tensor gate, Tensor up, Tensor x, Tensor wGate,
      Tensor wUp) {
    matmul(gate, x, wGate, false, true, false);
    matmul(up, x, wUp, false, true, false);
    swigluForward(act, gate, up);
  }

  /** dGate, dUp (overwritten) {@code [T, F]}. */
  void swigluBackward(Tensor dGate, Tensor dUp, Tensor dOut, Tensor gate, Tensor up);

  // ---- loss -------------------------------------------------------------------------------------

  /**
   * Softmax cross-entropy per token: {@code losses[t] = logsumexp(logits[t]) - logits[t, targets[t]]}.
   * logits {@code [T, V]}, targets {@code [T]} (a target of -1 is ignored: loss 0, no gradient),
   * losses {@code [T]}. When {@code dLogits} is not null it receives (overwritten)
   * {@code gradScale * (softmax(logits[t]) - onehot(targets[t]))} in the same pass; pass
   * {@code 1/(number of counted targets)} for the gradient of the mean loss.
   */
  void crossEntropy(Tensor losses, Tensor dLogits, Tensor logits, IntTensor targets, double gradScale);

  // ---- attention --------------------------------------------------------------------------------

  /**
   * MoBA routing (MOBA.md, semantics 1-3): per sequence, per query head, centroids of the key blocks
   * of its KV head, unscaled gate {@code q . c_j}, the own block forced, only blocks that end strictly
   * before the query compete, ties to the higher index. routing {@code [H, T, topk]} receives the
   * selected block indices (relative to the sequence start) in ascending order, empty slots -1.
   * q {@code [T, H, D]}, k {@code [T, Hkv, D]} (the keys after kconv, if any).
   */
  void mobaRoute(IntTensor routing, Tensor q, Tensor k, AttentionConfig config, SeqLayout layout);

  /**
   * Causal softmax attention of the given kind. out {@code [T, H, D]}, lse {@code [H, T]} (saved for
   * backward), q {@code [T, H, D]}, k, v {@code [T, Hkv, D]}; routing {@code [H, T, topk]} from
   * {@link #mobaRoute} for MOBA, null otherwise.
   */
  void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, IntTensor routing,
      AttentionConfig config, SeqLayout layout);

  /**
   * Gradients of {@link #attentionForward} with the routing held fixed (the router's top-k is not
   * differentiable; no gradient flows through the centroids). dq {@code [T, H, D]}, dk, dv
   * {@code [T, Hkv, D]} are overwritten.
   */
  void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dOut, Tensor q, Tensor k, Tensor v,
      Tensor out, Tensor lse, IntTensor routing, AttentionConfig config, SeqLayout layout);

  /**
   * kconv (FlashMoBA App. C): {@code out_t = k_t + silu(sum_{l<W} w_l * k_{t-l})}, depthwise per KV
   * head and channel, zero for {@code t-l} before the sequence start. k, out {@code [T, Hkv, D]},
   * weight {@code [Hkv, W, D]} with {@code W} the width (3 or 5).
   */
  void keyConvForward(Tensor out, Tensor k, Tensor weight, SeqLayout layout);

  /** dk (overwritten) {@code [T, Hkv, D]}, dWeight (accumulated) {@code [Hkv, W, D]}. */
  void keyConvBackward(Tensor dk, Tensor dWeight, Tensor dOut, Tensor k, Tensor weight,
      SeqLayout layout);

  // ---- optimizer --------------------------------------------------------------------------------

  /**
   * One decoupled-weight-decay Adam step (Loshchilov and Hutter) on {@code param} in place, with
   * bias correction for 1-based {@code step}: {@code param -= lr * (mhat / (sqrt(vhat) + eps) +
   * weightDecay * param)}. m and v are updated in place; all tensors have the same shape.
   */
  void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2,
      double eps, double weightDecay, int step);

  /**
   * {@link #scale} of every gradient by {@code gradScale} (skipped when it is 1: global-norm
   * clipping), then {@link #adamw} of every parameter i of equally long lists with weight decay
   * {@code weightDecays[i]}: the same results as those calls one by one, which is what this default
   * does; a backend may do it all in one pass (CUDA: one launch instead of two per parameter).
   */
  default void adamwAll(java.util.List<? extends Tensor> params,
      java.util.List<? extends Tensor> grads, java.util.List<? extends Tensor> m,
      java.util.List<? extends Tensor> v, double gradScale, double lr, double beta1, double beta2,
      double eps, double[] weightDecays, int step) {
    for (int i = 0; i < params.size(); i++) {
      if (gradScale != 1.0) {
        scale(grads.get(i), gradScale);
      }
      adamw(params.get(i), grads.get(i), m.get(i), v.get(i), lr, beta1, beta2, eps, weightDecays[i],
          step);
    }
  }

  @Override
  void close();
}
