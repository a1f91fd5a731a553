package io.mobaspark.trainer;

import io.mobaspark.kernels.SeqLayout;
import java.util.List;

/** What the training loop needs of a model: its parameters and a loss with gradients. */
public interface TrainableModel {

  /** Every trainable tensor, in a fixed order (checkpoints and gradient exchange rely on it). */
  List<Parameter> parameters();

  /**
   * Forward and backward on one micro-batch. inputs and targets are {@code [T]} (all sequences of
   * the micro-batch packed, split by {@code layout}); a target of -1 is not counted. Gradients are
   * <em>accumulated</em> into {@link Parameter#grad()}, scaled by {@code gradScale} (1/accumulation
   * steps for a mean over micro-batches).
   *
   * @return the mean cross-entropy (nats per counted token) of this micro-batch
   */
  double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double gradScale);

  /** Mean cross-entropy of one batch without touching gradients. */
  double evaluate(int[] inputs, int[] targets, SeqLayout layout);

  /**
   * After a non-finite loss: where the latest forward pass first produced a NaN or infinity, in words
   * that name the layer and the activation, e.g. {@code "layers.3's attention output"}, or that every
   * activation is finite. Reads device memory; called only on the failure path.
   */
  String locateNonFinite();
}
