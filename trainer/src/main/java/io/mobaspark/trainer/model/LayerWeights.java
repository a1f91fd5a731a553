package io.mobaspark.trainer.model;

import io.mobaspark.trainer.Parameter;
import java.util.ArrayList;
import java.util.List;

/**
 * The parameters of transformer block {@code layer}, named {@code layers.{layer}.*} as in
 * {@code docs/model.md}. Linear weights have PyTorch's {@code [out, in]} layout.
 */
final class LayerWeights {
  final Parameter attnNorm; // [C]
  final Parameter wq; // [H*D, C]
  final Parameter wk; // [Hkv*D, C]
  final Parameter wv; // [Hkv*D, C]
  final Parameter wo; // [C, H*D]
  /** {@code [Hkv, W, D]} on MoBA layers with kconv (FlashMoBA arXiv 2511.11571, App. C), else null. */
  final Parameter keyConv;
  final Parameter mlpNorm; // [C]
  final Parameter wGate; // [F, C]
  final Parameter wUp; // [F, C]
  final Parameter wDown; // [C, F]

  /** Creates the block's parameters in their fixed order; see {@link ParameterFactory}. */
  LayerWeights(ParameterFactory factory, ModelConfig config, int layer) {
    String prefix = "layers." + layer + ".";
    int c = config.dModel();
    double std = config.initStd();
    // GPT-2: the projections that write into the residual stream are scaled down so that the
    // stream's variance does not grow with depth (2 writes per block).
    double residualStd = std / Math.sqrt(2.0 * config.layers());
    attnNorm = factory.ones(prefix + "attn_norm.weight", c);
    wq = factory.normal(prefix + "attn.wq.weight", std, config.queryDim(), c);
    wk = factory.normal(prefix + "attn.wk.weight", std, config.keyValueDim(), c);
    wv = factory.normal(prefix + "attn.wv.weight", std, config.keyValueDim(), c);
    wo = factory.normal(prefix + "attn.wo.weight", residualStd, c, config.queryDim());
    keyConv = config.usesKeyConv(layer)
        ? factory.zeros(prefix + "attn.kconv.weight", config.kvHeads(), config.kconv(),
            config.headDim())
        : null;
    mlpNorm = factory.ones(prefix + "mlp_norm.weight", c);
    wGate = factory.normal(prefix + "mlp.w_gate.weight", std, config.ffn(), c);
    wUp = factory.normal(prefix + "mlp.w_up.weight", std, config.ffn(), c);
    wDown = factory.normal(prefix + "mlp.w_down.weight", residualStd, c, config.ffn());
  }

  /** The block's parameters in creation order (kconv where the block has one). */
  List<Parameter> parameters() {
    List<Parameter> all = new ArrayList<>(List.of(attnNorm, wq, wk, wv, wo));
    if (keyConv != null) {
      all.add(keyConv);
    }
    all.addAll(List.of(mlpNorm, wGate, wUp, wDown));
    return List.copyOf(all);
  }
}
