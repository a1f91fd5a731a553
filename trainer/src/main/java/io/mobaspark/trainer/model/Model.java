package io.mobaspark.trainer.model;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.TrainableModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * A decoder-only transformer with hybrid attention (dense, sliding window, Mixture of Block Attention
 * after MoBA, arXiv 2502.13189, with FlashMoBA's key convolution, arXiv 2511.11571 App. C), written
 * llm.c style: an explicit forward and backward against {@link Backend}, no autograd.
 *
 * <pre>
 * x = tok_embeddings[inputs]                                  // [T, C]
 * for each block:  x = x + Attention(RMSNorm(x))              // attention kind per layer
 *                  x = x + w_down(silu(w_gate(h)) * w_up(h)), h = RMSNorm(x)
 * logits = RMSNorm(x) lm_head^T                               // [T, V], lm_head = tok_embeddings if tied
 * loss = mean over counted targets of cross-entropy(logits, targets)
 * </pre>
 *
 * {@code docs/model.md} is the exact specification (names, shapes, op order, routing rules) that
 * {@code tools/torch_reference.py} re-implements. Buffers are allocated once per distinct micro-batch
 * token count and reused. Not thread-safe: one model serves one training loop.
 *
 * <p>Mixed precision: on a backend with bf16 activations ({@link Backend#lowPrecisionActivations()})
 * the parameters are fp32 masters with bf16 compute copies, refreshed before each forward pass; the
 * per-row statistics (rstd, LSE, losses) and every gradient of a parameter stay fp32. With activation
 * checkpointing the backward recomputes each block from its input instead of keeping its activations.
 */
public final class Model implements TrainableModel, AutoCloseable {
  private final Backend backend;
  private final ModelConfig config;
  private final AttentionConfig[] attention;
  private final Parameter tokEmbeddings; // [V, C]
  private final LayerWeights[] layers;
  private final Parameter finalNorm; // [C]
  /** The same parameter as {@link #tokEmbeddings} when the embeddings are tied. */
  private final Parameter lmHead; // [V, C]
  private final List<Parameter> parameters;
  /** In the order the backward finishes them: lm_head (untied), norm, layers last to first, embeddings. */
  private final List<List<Parameter>> gradientGroups;
  private final Map<String, Parameter> byName = new HashMap<>();
  private final Map<Integer, Activations> activationsByTokens = new HashMap<>();
  private final Map<Integer, ActivationGrads> gradsByTokens = new HashMap<>();
  private final boolean activationCheckpointing;
  /** The buffers of the latest forward pass, for {@link #readRouting}; null before the first. */
  private Activations latest;

  /**
   * A freshly initialized model: normal(0, init_std) matrices and embeddings ({@code wo} and
   * {@code w_down} scaled by {@code 1/sqrt(2 * layers)}, as GPT-2), norms 1, kconv 0 (the identity).
   * The same seed gives the same weights. Gradients start at zero.
   */
  public Model(Backend backend, ModelConfig config, long seed) {
    this(backend, config, seed, false);
  }

  /**
   * As {@link #Model(Backend, ModelConfig, long)}; with {@code activationCheckpointing} each block
   * keeps only its input during the forward pass and is recomputed before its backward, trading about
   * one more forward pass for the memory of all but one block per shape ({@code
   * train.activation_checkpointing}).
   */
  public Model(Backend backend, ModelConfig config, long seed, boolean activationCheckpointing) {
    if (backend == null || config == null) {
      throw new IllegalArgumentException("backend and config must be given");
    }
    this.backend = backend;
    this.config = config;
    this.activationCheckpointing = activationCheckpointing;
    attention = new AttentionConfig[config.layers()];
    for (int l = 0; l < config.layers(); l++) {
      attention[l] = config.attentionConfig(l);
    }
    ParameterFactory factory = new ParameterFactory(backend, seed);
    tokEmbeddings = factory.normal("tok_embeddings.weight", config.initStd(), config.vocabSize(),
        config.dModel());
    layers = new LayerWeights[config.layers()];
    for (int l = 0; l < config.layers(); l++) {
      layers[l] = new LayerWeights(factory, config, l);
    }
    finalNorm = factory.ones("norm.weight", config.dModel());
    lmHead = config.tieEmbeddings()
        ? tokEmbeddings
        : factory.normal("lm_head.weight", config.initStd(), config.vocabSize(), config.dModel());
    parameters = factory.created();
    for (Parameter p : parameters) {
      byName.put(p.name(), p);
    }
    gradientGroups = backwardOrder();
  }

  private List<List<Parameter>> backwardOrder() {
    List<List<Parameter>> groups = new ArrayList<>();
    if (lmHead != tokEmbeddings) {
      groups.add(List.of(lmHead));
    }
    groups.add(List.of(finalNorm));
    for (int l = layers.length - 1; l >= 0; l--) {
      groups.add(layers[l].parameters());
    }
    groups.add(List.of(tokEmbeddings));
    return List.copyOf(groups);
  }

  public ModelConfig config() {
    return config;
  }

  public Backend backend() {
    return backend;
  }

  // ---- TrainableModel ---------------------------------------------------------------------------

  /**
   * tok_embeddings, then per layer attn_norm, wq, wk, wv, wo, kconv (MoBA layers with kconv), mlp_norm,
   * w_gate, w_up, w_down, then norm and lm_head (untied only).
   */
  @Override
  public List<Parameter> parameters() {
    return parameters;
  }

  @Override
  public List<List<Parameter>> gradientGroups() {
    return gradientGroups;
  }

  @Override
  public double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double gradScale) {
    return forwardBackward(inputs, targets, layout, gradScale, group -> {});
  }

  @Override
  public double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double gradScale,
      IntConsumer groupDone) {
    int counted = validateBatch(inputs, targets, layout);
    if (!Double.isFinite(gradScale)) {
      throw new IllegalArgumentException("gradScale must be finite, got " + gradScale);
    }
    Activations a = activations(inputs.length);
    ActivationGrads g = grads(inputs.length);
    forward(a, inputs, targets, layout);
    // dLogits carry gradScale / counted: every gradient below is then already that of the scaled
    // mean loss, and no parameter gradient needs a separate scaling pass.
    backend.crossEntropy(a.losses, g.dLogits, a.logits, a.targets, gradScale / counted);
    backward(a, g, layout, groupDone);
    return meanLoss(a, counted);
  }

  @Override
  public double evaluate(int[] inputs, int[] targets, SeqLayout layout) {
    int counted = validateBatch(inputs, targets, layout);
    Activations a = activations(inputs.length);
    forward(a, inputs, targets, layout);
    backend.crossEntropy(a.losses, null, a.logits, a.targets, 0.0);
    return meanLoss(a, counted);
  }

  // ---- forward ----------------------------------------------------------------------------------

  /** Everything up to the logits. */
  private void forward(Activations a, int[] inputs, int[] targets, SeqLayout layout) {
    latest = a;
    refreshComputeCopies();
    backend.write(a.inputs, inputs);
    backend.write(a.targets, targets);
    backend.write(a.positions, layout.positions());
    backend.embeddingForward(a.residual[0], a.inputs, tokEmbeddings.compute());
    for (int l = 0; l < layers.length; l++) {
      blockForward(l, a, layout);
    }
    int last = layers.length;
    backend.rmsNormForward(a.finalNormOut, a.finalRstd, a.residual[last], finalNorm.compute(),
        config.normEps());
    backend.matmul(a.logits, a.finalNormOut, lmHead.compute(), false, true, false);
  }

  /**
   * Copies the fp32 masters into the bf16 compute copies (a no-op on float32 backends), in one
   * backend call: a GPU backend converts them all in one launch.
   */
  private void refreshComputeCopies() {
    List<Tensor> computes = new ArrayList<>();
    List<Tensor> masters = new ArrayList<>();
    for (Parameter p : parameters) {
      if (p.hasComputeCopy()) {
        computes.add(p.compute());
        masters.add(p.value());
      }
    }
    backend.copyAll(computes, masters);
  }

  /** residual[l + 1] = block l (residual[l]). */
  private void blockForward(int l, Activations a, SeqLayout layout) {
    blockActivations(l, a, layout);
    LayerActivations s = a.layers[l];
    backend.matmulAdd(a.residual[l + 1], s.mid, s.act, layers[l].wDown.compute(), false, true);
  }

  /**
   * Everything block l's backward reads, from its input residual[l]: run by the forward, and again by
   * the backward under activation checkpointing (the same kernels on the same input give the same
   * values, routing included).
   */
  private void blockActivations(int l, Activations a, SeqLayout layout) {
    LayerWeights w = layers[l];
    LayerActivations s = a.layers[l];
    Tensor x = a.residual[l];
    backend.rmsNormForward(s.attnNormOut, s.attnRstd, x, w.attnNorm.compute(), config.normEps());
    attentionForward(l, a, layout);
    // mid = x + attn_out wo^T: the residual add rides on the matmul.
    backend.matmulAdd(s.mid, x, flat(s.attnOut), w.wo.compute(), false, true);

    backend.rmsNormForward(s.mlpNormOut, s.mlpRstd, s.mid, w.mlpNorm.compute(), config.normEps());
    // gate, up and act = silu(gate) * up: on CUDA one GEMM with SwiGLU in its epilogue.
    backend.swigluProjections(s.act, s.gate, s.up, s.mlpNormOut, w.wGate.compute(),
        w.wUp.compute());
    s.heldLayer = l;
  }

  /** attn_out of block l from its attn_norm_out: projections, kconv, RoPE, routing, attention. */
  private void attentionForward(int l, Activations a, SeqLayout layout) {
    LayerWeights w = layers[l];
    LayerActivations s = a.layers[l];
    backend.matmul(flat(s.queries), s.attnNormOut, w.wq.compute(), false, true, false);
    backend.matmul(flat(s.rawKeys), s.attnNormOut, w.wk.compute(), false, true, false);
    backend.matmul(flat(s.values), s.attnNormOut, w.wv.compute(), false, true, false);
    if (w.keyConv != null) {
      backend.keyConvForward(s.keys, s.rawKeys, w.keyConv.compute(), layout);
    }
    if (config.usesRope(l)) {
      backend.ropeForward(s.queries, s.queries, a.positions, config.heads(), config.ropeTheta());
      backend.ropeForward(s.keys, s.keys, a.positions, config.kvHeads(), config.ropeTheta());
    }
    if (s.routing != null) {
      // The router sees exactly the keys the attention uses (after kconv), as FlashMoBA App. C.
      backend.mobaRoute(s.routing, s.queries, s.keys, attention[l], layout);
    }
    backend.attentionForward(s.attnOut, s.lse, s.queries, s.keys, s.values, s.routing,
        attention[l], layout);
  }

  // ---- backward ---------------------------------------------------------------------------------

  /**
   * From dLogits down to the embedding; parameter gradients accumulate. Each of {@link
   * #gradientGroups} is reported to {@code groupDone} as soon as nothing later adds to it.
   */
  private void backward(Activations a, ActivationGrads g, SeqLayout layout, IntConsumer groupDone) {
    int last = layers.length;
    int group = 0;
    backend.matmul(g.dNormOut, g.dLogits, lmHead.compute(), false, false, false); // [T, C]
    backend.matmul(lmHead.grad(), g.dLogits, a.finalNormOut, true, false, true); // [V, C]
    if (lmHead != tokEmbeddings) {
      groupDone.accept(group++);
    }
    backend.zero(g.dResidual);
    backend.rmsNormBackward(g.dResidual, finalNorm.grad(), g.dNormOut, a.residual[last],
        finalNorm.compute(), a.finalRstd);
    groupDone.accept(group++);
    for (int l = last - 1; l >= 0; l--) {
      blockBackward(l, a, g, layout);
      groupDone.accept(group++);
    }
    backend.embeddingBackward(tokEmbeddings.grad(), g.dResidual, a.inputs);
    groupDone.accept(group);
  }

  /**
   * On entry dResidual = d loss / d residual[l + 1]; on exit d loss / d residual[l]. The RMSNorm
   * backward accumulates into dResidual, which adds the branch's gradient to the skip path's.
   */
  private void blockBackward(int l, Activations a, ActivationGrads g, SeqLayout layout) {
    LayerWeights w = layers[l];
    LayerActivations s = a.layers[l];
    if (s.heldLayer != l) {
      blockActivations(l, a, layout); // activation checkpointing: another layer used the buffers
    }
    // MLP branch: out = mid + act w_down^T.
    backend.matmul(g.dAct, g.dResidual, w.wDown.compute(), false, false, false); // [T, F]
    backend.matmul(w.wDown.grad(), g.dResidual, s.act, true, false, true); // [C, F]
    backend.swigluBackward(g.dGate, g.dUp, g.dAct, s.gate, s.up);
    backend.matmul(g.dNormOut, g.dGate, w.wGate.compute(), false, false, false);
    backend.matmul(g.dNormOut, g.dUp, w.wUp.compute(), false, false, true);
    backend.matmul(w.wGate.grad(), g.dGate, s.mlpNormOut, true, false, true);
    backend.matmul(w.wUp.grad(), g.dUp, s.mlpNormOut, true, false, true);
    backend.rmsNormBackward(g.dResidual, w.mlpNorm.grad(), g.dNormOut, s.mid, w.mlpNorm.compute(),
        s.mlpRstd);

    // Attention branch: mid = x + attn_out wo^T; dResidual now holds d loss / d mid.
    backend.matmul(w.wo.grad(), g.dResidual, flat(s.attnOut), true, false, true); // [C, H*D]
    backend.matmul(flat(g.dAttnOut), g.dResidual, w.wo.compute(), false, false, false);
    attentionBackward(l, a, g, layout);
    backend.rmsNormBackward(g.dResidual, w.attnNorm.grad(), g.dNormOut, a.residual[l],
        w.attnNorm.compute(), s.attnRstd);
  }

  /** From dAttnOut to dNormOut (d loss / d attn_norm_out), accumulating wq, wk, wv, kconv grads. */
  private void attentionBackward(int l, Activations a, ActivationGrads g, SeqLayout layout) {
    LayerWeights w = layers[l];
    LayerActivations s = a.layers[l];
    backend.attentionBackward(g.dQueries, g.dKeys, g.dValues, g.dAttnOut, s.queries, s.keys,
        s.values, s.attnOut, s.lse, s.routing, attention[l], layout);
    if (config.usesRope(l)) {
      backend.ropeBackward(g.dQueries, g.dQueries, a.positions, config.heads(), config.ropeTheta());
      backend.ropeBackward(g.dKeys, g.dKeys, a.positions, config.kvHeads(), config.ropeTheta());
    }
    Tensor dRawKeys = g.dKeys;
    if (w.keyConv != null) {
      backend.keyConvBackward(g.dRawKeys, w.keyConv.grad(), g.dKeys, s.rawKeys,
          w.keyConv.compute(), layout);
      dRawKeys = g.dRawKeys;
    }
    Tensor dq = flat(g.dQueries);
    backend.matmul(g.dNormOut, dq, w.wq.compute(), false, false, false);
    backend.matmul(w.wq.grad(), dq, s.attnNormOut, true, false, true);
    Tensor dk = flat(dRawKeys);
    backend.matmul(g.dNormOut, dk, w.wk.compute(), false, false, true);
    backend.matmul(w.wk.grad(), dk, s.attnNormOut, true, false, true);
    Tensor dv = flat(g.dValues);
    backend.matmul(g.dNormOut, dv, w.wv.compute(), false, false, true);
    backend.matmul(w.wv.grad(), dv, s.attnNormOut, true, false, true);
  }

  // ---- diagnosis ----------------------------------------------------------------------------------

  /**
   * Walks the latest forward pass's buffers in forward order and names the first that holds a NaN or
   * infinity: the embeddings, then per block its output, refined to the attention or MLP half when the
   * block's activations are still held (always, without activation checkpointing), then the logits.
   */
  @Override
  public String locateNonFinite() {
    if (latest == null) {
      return "no forward pass has run";
    }
    Activations a = latest;
    if (!backend.allFinite(a.residual[0])) {
      return "the token embeddings (tok_embeddings.weight rows of this batch)";
    }
    for (int l = 0; l < layers.length; l++) {
      if (!backend.allFinite(a.residual[l + 1])) {
        return "layers." + l + "'s " + blockHalf(l, a.layers[l]);
      }
    }
    if (!backend.allFinite(a.finalNormOut)) {
      return "the final norm's output (norm.weight)";
    }
    if (!backend.allFinite(a.logits)) {
      return "the logits (lm_head)";
    }
    return "no activation: every buffer of the forward pass is finite, so the loss itself overflowed";
  }

  /** Which half of block l made its output non-finite, where its activations are still held. */
  private String blockHalf(int l, LayerActivations s) {
    if (s.heldLayer != l) {
      return "output (its activations were recomputed away: train.activation_checkpointing)";
    }
    if (!backend.allFinite(s.attnOut)) {
      return config.attentionKind(l).name().toLowerCase(java.util.Locale.ROOT)
          + " attention output";
    }
    if (!backend.allFinite(s.mid)) {
      return "attention projection (wo)";
    }
    return backend.allFinite(s.act) ? "MLP output (w_down)" : "MLP activation (w_gate, w_up)";
  }

  // ---- weights ----------------------------------------------------------------------------------

  /** The parameter with this safetensors name ({@code docs/model.md}). */
  public Parameter parameter(String name) {
    Parameter p = byName.get(name);
    if (p == null) {
      throw new IllegalArgumentException("model has no parameter named " + name);
    }
    return p;
  }

  /** Replaces one parameter's weights with host values in row-major order. */
  public void setWeights(String name, double[] values) {
    Parameter p = parameter(name);
    if (values == null || values.length != p.value().numel()) {
      throw new IllegalArgumentException("weights for " + p.value().shape() + " need "
          + p.value().numel() + " values, got " + (values == null ? "null" : values.length));
    }
    backend.write(p.value(), values);
  }

  /**
   * Replaces every parameter's weights; {@code weights} must name exactly the model's parameters, so
   * that a restore cannot silently leave a tensor at its initial values.
   */
  public void loadWeights(Map<String, double[]> weights) {
    if (weights == null) {
      throw new IllegalArgumentException("weights must be given");
    }
    for (String name : weights.keySet()) {
      parameter(name);
    }
    for (Parameter p : parameters) {
      if (!weights.containsKey(p.name())) {
        throw new IllegalArgumentException("weights lack parameter " + p.name());
      }
    }
    for (Parameter p : parameters) {
      setWeights(p.name(), weights.get(p.name()));
    }
  }

  /** Host copies of the weights by name, in {@link #parameters()} order. */
  public Map<String, double[]> readWeights() {
    Map<String, double[]> m = new LinkedHashMap<>();
    for (Parameter p : parameters) {
      m.put(p.name(), backend.read(p.value()));
    }
    return m;
  }

  /** Host copies of the accumulated gradients by name, in {@link #parameters()} order. */
  public Map<String, double[]> readGradients() {
    Map<String, double[]> m = new LinkedHashMap<>();
    for (Parameter p : parameters) {
      m.put(p.name(), backend.read(p.grad()));
    }
    return m;
  }

  /**
   * Host copy of the MoBA routing {@code [H, T, topk]} of the latest forward pass on MoBA layer
   * {@code layer}: the selected key blocks of each query (relative to its sequence start, ascending,
   * -1 for empty slots). For diagnostics and the PyTorch reference check.
   */
  public int[] readRouting(int layer) {
    if (layer < 0 || layer >= layers.length) {
      throw new IllegalArgumentException("layer " + layer + " is outside [0, " + layers.length + ")");
    }
    if (latest == null) {
      throw new IllegalStateException("no forward pass has run yet");
    }
    LayerActivations s = latest.layers[layer];
    if (s.routing == null) {
      throw new IllegalArgumentException("layer " + layer + " is " + config.attentionKind(layer)
          + ", not MoBA: it has no routing");
    }
    if (s.heldLayer != layer) {
      throw new IllegalStateException("the routing of layer " + layer + " was not kept: activation"
          + " checkpointing reuses its buffers for layer " + s.heldLayer);
    }
    return backend.read(s.routing);
  }

  /** Sets every parameter gradient to zero (the training loop does the same between steps). */
  public void zeroGradients() {
    backend.zeroAll(parameters.stream().map(Parameter::grad).toList());
  }

  /** Frees the parameters and every activation buffer (device memory on a GPU backend). */
  @Override
  public void close() {
    for (Activations a : activationsByTokens.values()) {
      a.close();
    }
    for (ActivationGrads g : gradsByTokens.values()) {
      g.close();
    }
    activationsByTokens.clear();
    gradsByTokens.clear();
    latest = null;
    for (Parameter p : parameters) {
      if (p.hasComputeCopy()) {
        p.compute().close();
      }
      p.value().close();
      p.grad().close();
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /**
   * {@code [T, heads, D]} as the {@code [T, heads*D]} operand of a matmul: a view, no copy (the
   * layouts are the same row-major bytes).
   */
  private Tensor flat(Tensor heads) {
    return backend.view(heads, heads.name() + ".flat", heads.dim(0), heads.dim(1) * heads.dim(2));
  }

  private Activations activations(int tokens) {
    return activationsByTokens.computeIfAbsent(tokens,
        t -> new Activations(backend, config, t, activationCheckpointing));
  }

  private ActivationGrads grads(int tokens) {
    return gradsByTokens.computeIfAbsent(tokens, t -> new ActivationGrads(backend, config, t));
  }

  /** Sum of the per-token losses (0 where not counted) over the counted tokens. */
  private double meanLoss(Activations a, int counted) {
    double sum = 0;
    for (double loss : backend.read(a.losses)) {
      sum += loss;
    }
    return sum / counted;
  }

  /** Checks ids against the vocabulary and the layout; returns the number of counted targets. */
  private int validateBatch(int[] inputs, int[] targets, SeqLayout layout) {
    if (inputs == null || targets == null || layout == null) {
      throw new IllegalArgumentException("inputs, targets and layout must be given");
    }
    if (inputs.length == 0 || inputs.length != targets.length) {
      throw new IllegalArgumentException("inputs and targets must have the same positive length, got "
          + inputs.length + " and " + targets.length);
    }
    layout.requireTokens(inputs.length, "inputs");
    int vocab = config.vocabSize();
    int counted = 0;
    for (int t = 0; t < inputs.length; t++) {
      if (inputs[t] < 0 || inputs[t] >= vocab) {
        throw new IllegalArgumentException(
            "inputs[" + t + "] = " + inputs[t] + " is outside the vocabulary [0, " + vocab + ")");
      }
      if (targets[t] < -1 || targets[t] >= vocab) {
        throw new IllegalArgumentException("targets[" + t + "] = " + targets[t]
            + " is neither -1 (not counted) nor in the vocabulary [0, " + vocab + ")");
      }
      if (targets[t] != -1) {
        counted++;
      }
    }
    if (counted == 0) {
      throw new IllegalArgumentException(
          "every target is -1: a micro-batch needs at least one counted target for a mean loss");
    }
    return counted;
  }
}
