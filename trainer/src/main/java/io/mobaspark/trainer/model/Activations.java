package io.mobaspark.trainer.model;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Tensor;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The forward pass's buffers for one token count T, allocated once and reused by every micro-batch
 * of that size (llm.c style): inputs, the residual stream, each block's saved activations, the
 * final norm and the logits.
 */
final class Activations implements AutoCloseable {
  final int tokens;
  final IntTensor inputs; // [T]
  final IntTensor targets; // [T], -1 = not counted
  /** Position of each token inside its own sequence, for RoPE. */
  final IntTensor positions; // [T]
  /** residual[0] = token embeddings, residual[l + 1] = output of block l. */
  final Tensor[] residual; // L+1 x [T, C]
  /**
   * Each block's saved activations. With activation checkpointing, blocks of the same shape (attention
   * kind, kconv) share one set, which the backward refills by recomputing the block from its input
   * {@code residual[l]}: memory for one block per shape instead of one per layer.
   */
  final LayerActivations[] layers;
  final Tensor finalNormOut; // [T, C]
  final Tensor finalRstd; // [T]
  final Tensor logits; // [T, V]
  final Tensor losses; // [T]

  Activations(Backend backend, ModelConfig config, int tokens, boolean checkpointing) {
    this.tokens = tokens;
    int c = config.dModel();
    inputs = backend.intTensor("act.inputs", tokens);
    targets = backend.intTensor("act.targets", tokens);
    positions = backend.intTensor("act.positions", tokens);
    residual = new Tensor[config.layers() + 1];
    for (int l = 0; l <= config.layers(); l++) {
      residual[l] = backend.tensor("act.residual." + l, tokens, c);
    }
    layers = new LayerActivations[config.layers()];
    Map<String, LayerActivations> shared = new HashMap<>();
    for (int l = 0; l < config.layers(); l++) {
      int layer = l;
      layers[l] = checkpointing
          ? shared.computeIfAbsent(LayerActivations.shapeKey(config, l),
              key -> new LayerActivations(backend, config, layer, tokens))
          : new LayerActivations(backend, config, l, tokens);
    }
    finalNormOut = backend.tensor("act.final_norm_out", tokens, c);
    finalRstd = backend.fp32Tensor("act.final_rstd", tokens);
    logits = backend.tensor("act.logits", tokens, config.vocabSize());
    losses = backend.fp32Tensor("act.losses", tokens);
  }

  @Override
  public void close() {
    inputs.close();
    targets.close();
    positions.close();
    for (Tensor t : residual) {
      t.close();
    }
    // Shared sets appear under several layers: close each once.
    Set<LayerActivations> closed = Collections.newSetFromMap(new IdentityHashMap<>());
    for (LayerActivations l : layers) {
      if (closed.add(l)) {
        l.close();
      }
    }
    finalNormOut.close();
    finalRstd.close();
    logits.close();
    losses.close();
  }
}
