package io.mobaspark.trainer;

import io.mobaspark.kernels.SeqLayout;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * A {@link TrainableModel} that passes every call to another; a subclass overrides what it changes
 * (labs and tests: a model that reports its gradient groups late, or a diverging loss).
 */
public class ForwardingModel implements TrainableModel {
  private final TrainableModel inner;

  public ForwardingModel(TrainableModel inner) {
    if (inner == null) {
      throw new IllegalArgumentException("the model to forward to must be given");
    }
    this.inner = inner;
  }

  @Override
  public List<Parameter> parameters() {
    return inner.parameters();
  }

  @Override
  public List<List<Parameter>> gradientGroups() {
    return inner.gradientGroups();
  }

  @Override
  public double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double gradScale) {
    return inner.forwardBackward(inputs, targets, layout, gradScale);
  }

  @Override
  public double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double gradScale,
      IntConsumer groupDone) {
    return inner.forwardBackward(inputs, targets, layout, gradScale, groupDone);
  }

  @Override
  public double evaluate(int[] inputs, int[] targets, SeqLayout layout) {
    return inner.evaluate(inputs, targets, layout);
  }

  @Override
  public String locateNonFinite() {
    return inner.locateNonFinite();
  }
}
