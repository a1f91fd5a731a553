package io.mobaspark.trainer;

import io.mobaspark.kernels.SeqLayout;
import java.util.List;
import java.util.function.IntConsumer;

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

  /**
   * The parameters cut into the groups whose gradients a backward pass finishes one after another,
   * in that order; together they are {@link #parameters()}, each once. A data-parallel step sends a
   * group to the other ranks while the backward computes the next (docs/exchange.md). The default is
   * one group: nothing is final before the backward ends.
   */
  default List<List<Parameter>> gradientGroups() {
    return List.of(parameters());
  }

  /**
   * {@link #forwardBackward(int[], int[], SeqLayout, double)} that calls {@code groupDone} with
   * group index {@code 0, 1, ...} of {@link #gradientGroups()} as soon as that group's gradients
   * are final, on the calling thread and before this method returns. The default calls it for every
   * group after the whole backward.
   */
  default double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double gradScale,
      IntConsumer groupDone) {
    return forwardBackwardThenGroups(this, inputs, targets, layout, gradScale, groupDone);
  }

  /**
   * {@code model}'s plain forward and backward, then every group of its {@link #gradientGroups()}
   * reported in order: the default above, and what a wrapper uses to keep a model that reports
   * groups early from doing so (a comparison without overlap).
   */
  static double forwardBackwardThenGroups(TrainableModel model, int[] inputs, int[] targets,
      SeqLayout layout, double gradScale, IntConsumer groupDone) {
    double loss = model.forwardBackward(inputs, targets, layout, gradScale);
    for (int g = 0; g < model.gradientGroups().size(); g++) {
      groupDone.accept(g);
    }
    return loss;
  }

  /** Mean cross-entropy of one batch without touching gradients. */
  double evaluate(int[] inputs, int[] targets, SeqLayout layout);

  /**
   * After a non-finite loss: where the latest forward pass first produced a NaN or infinity, in words
   * that name the layer and the activation, e.g. {@code "layers.3's attention output"}, or that every
   * activation is finite. Reads device memory; called only on the failure path.
   */
  String locateNonFinite();
}
