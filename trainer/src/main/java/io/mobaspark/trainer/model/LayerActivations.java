package io.mobaspark.trainer.model;

import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Tensor;

/**
 * What the forward pass of one transformer block keeps for its backward, for a fixed token count T.
 * The block's input and output are the residual stream buffers of {@link Activations}.
 */
final class LayerActivations implements AutoCloseable {
  final Tensor attnNormOut; // [T, C]
  final Tensor attnRstd; // [T]
  /** After RoPE when the layer has it: the attention's q. */
  final Tensor queries; // [T, H, D]
  /** The key projection; RoPE is applied in place when the layer has RoPE and no kconv. */
  final Tensor rawKeys; // [T, Hkv, D]
  /** The attention's (and the router's) keys: kconv(rawKeys), or rawKeys itself without kconv. */
  final Tensor keys; // [T, Hkv, D]
  final Tensor values; // [T, Hkv, D]
  /** MoBA layers only: the selected key blocks per head and query, else null. */
  final IntTensor routing; // [H, T, topk]
  final Tensor attnOut; // [T, H, D]
  final Tensor lse; // [H, T]
  /** The residual stream between the attention and the MLP: input + attention projection. */
  final Tensor mid; // [T, C]
  final Tensor mlpNormOut; // [T, C]
  final Tensor mlpRstd; // [T]
  final Tensor gate; // [T, F]
  final Tensor up; // [T, F]
  /** silu(gate) * up, the input of w_down. */
  final Tensor act; // [T, F]
  /**
   * The layer whose activations these buffers hold now, -1 before the first forward: with activation
   * checkpointing one set serves several layers, and the backward recomputes a layer only when another
   * one overwrote it since its forward.
   */
  int heldLayer = -1;

  LayerActivations(Backend backend, ModelConfig config, int layer, int tokens) {
    String p = "act.layers." + layer + ".";
    int c = config.dModel();
    int h = config.heads();
    int hkv = config.kvHeads();
    int d = config.headDim();
    int f = config.ffn();
    attnNormOut = backend.tensor(p + "attn_norm_out", tokens, c);
    attnRstd = backend.fp32Tensor(p + "attn_rstd", tokens);
    queries = backend.tensor(p + "queries", tokens, h, d);
    rawKeys = backend.tensor(p + "raw_keys", tokens, hkv, d);
    keys = config.usesKeyConv(layer) ? backend.tensor(p + "keys", tokens, hkv, d) : rawKeys;
    values = backend.tensor(p + "values", tokens, hkv, d);
    routing = config.attentionKind(layer) == AttentionKind.MOBA
        ? backend.intTensor(p + "routing", h, tokens, config.topk())
        : null;
    attnOut = backend.tensor(p + "attn_out", tokens, h, d);
    lse = backend.fp32Tensor(p + "lse", h, tokens);
    mid = backend.tensor(p + "mid", tokens, c);
    mlpNormOut = backend.tensor(p + "mlp_norm_out", tokens, c);
    mlpRstd = backend.fp32Tensor(p + "mlp_rstd", tokens);
    gate = backend.tensor(p + "gate", tokens, f);
    up = backend.tensor(p + "up", tokens, f);
    act = backend.tensor(p + "act", tokens, f);
  }

  /** Layers with equal keys allocate identical buffers, so they can share one set. */
  static String shapeKey(ModelConfig config, int layer) {
    return config.attentionKind(layer) + (config.usesKeyConv(layer) ? "+kconv" : "");
  }

  @Override
  public void close() {
    attnNormOut.close();
    attnRstd.close();
    queries.close();
    if (keys != rawKeys) {
      keys.close();
    }
    rawKeys.close();
    values.close();
    if (routing != null) {
      routing.close();
    }
    attnOut.close();
    lse.close();
    mid.close();
    mlpNormOut.close();
    mlpRstd.close();
    gate.close();
    up.close();
    act.close();
  }
}
