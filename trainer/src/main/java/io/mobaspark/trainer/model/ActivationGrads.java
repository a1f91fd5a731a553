package io.mobaspark.trainer.model;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Tensor;

/**
 * The backward pass's scratch for one token count T. Shared by all blocks: the backward visits them
 * one at a time, and only {@link #dResidual} carries information from one block to the next.
 */
final class ActivationGrads implements AutoCloseable {
  final Tensor dLogits; // [T, V]
  /** d loss / d residual stream at the current depth; the residual adds make it flow through. */
  final Tensor dResidual; // [T, C]
  /** d loss / d output of an RMSNorm (final, attention or MLP norm). */
  final Tensor dNormOut; // [T, C]
  final Tensor dAct; // [T, F]
  final Tensor dGate; // [T, F]
  final Tensor dUp; // [T, F]
  final Tensor dAttnOut; // [T, H, D]
  final Tensor dQueries; // [T, H, D]
  final Tensor dKeys; // [T, Hkv, D]
  /** d loss / d key projection on kconv layers (before the convolution); null without kconv. */
  final Tensor dRawKeys; // [T, Hkv, D]
  final Tensor dValues; // [T, Hkv, D]

  ActivationGrads(Backend backend, ModelConfig config, int tokens) {
    int c = config.dModel();
    int h = config.heads();
    int hkv = config.kvHeads();
    int d = config.headDim();
    int f = config.ffn();
    dLogits = backend.tensor("grad.logits", tokens, config.vocabSize());
    dResidual = backend.tensor("grad.residual", tokens, c);
    dNormOut = backend.tensor("grad.norm_out", tokens, c);
    dAct = backend.tensor("grad.act", tokens, f);
    dGate = backend.tensor("grad.gate", tokens, f);
    dUp = backend.tensor("grad.up", tokens, f);
    dAttnOut = backend.tensor("grad.attn_out", tokens, h, d);
    dQueries = backend.tensor("grad.queries", tokens, h, d);
    dKeys = backend.tensor("grad.keys", tokens, hkv, d);
    boolean anyKeyConv = false;
    for (int l = 0; l < config.layers(); l++) {
      anyKeyConv |= config.usesKeyConv(l);
    }
    dRawKeys = anyKeyConv ? backend.tensor("grad.raw_keys", tokens, hkv, d) : null;
    dValues = backend.tensor("grad.values", tokens, hkv, d);
  }

  @Override
  public void close() {
    dLogits.close();
    dResidual.close();
    dNormOut.close();
    dAct.close();
    dGate.close();
    dUp.close();
    dAttnOut.close();
    dQueries.close();
    dKeys.close();
    if (dRawKeys != null) {
      dRawKeys.close();
    }
    dValues.close();
  }
}
