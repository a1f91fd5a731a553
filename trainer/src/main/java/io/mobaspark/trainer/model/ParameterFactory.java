package io.mobaspark.trainer.model;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.trainer.Parameter;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Creates the model's parameters one after another and initializes each as it is created, so that
 * the creation order is both the fixed order of {@code Model.parameters()} and the order in which the
 * seeded random stream is consumed: one seed, identical weights.
 */
final class ParameterFactory {
  private final Backend backend;
  /**
   * {@link java.util.Random} rather than a newer generator: its {@code nextGaussian} algorithm is
   * part of its specification, so a seed gives the same weights on every JVM version.
   */
  private final Random random;
  private final List<Parameter> created = new ArrayList<>();

  ParameterFactory(Backend backend, long seed) {
    this.backend = backend;
    this.random = new Random(seed);
  }

  /** A matrix or embedding drawn from normal(0, std), with weight decay. */
  Parameter normal(String name, double std, int... dims) {
    Parameter p = create(name, true, dims);
    double[] values = new double[(int) p.value().numel()];
    for (int i = 0; i < values.length; i++) {
      values[i] = std * random.nextGaussian();
    }
    backend.write(p.value(), values);
    return p;
  }

  /** A norm weight, all ones, without weight decay. */
  Parameter ones(String name, int... dims) {
    Parameter p = create(name, false, dims);
    double[] values = new double[(int) p.value().numel()];
    java.util.Arrays.fill(values, 1.0);
    backend.write(p.value(), values);
    return p;
  }

  /** All zeros (kconv: starts as the identity), without weight decay. */
  Parameter zeros(String name, int... dims) {
    return create(name, false, dims);
  }

  /** Every parameter created so far, in creation order. */
  List<Parameter> created() {
    return List.copyOf(created);
  }

  /** fp32 master weights and gradient; a bf16 compute copy where the backend's activations are bf16. */
  private Parameter create(String name, boolean decay, int... dims) {
    Tensor value = backend.fp32Tensor(name, dims);
    Tensor grad = backend.fp32Tensor("grad." + name, dims);
    Tensor compute = backend.lowPrecisionActivations() ? backend.tensor("compute." + name, dims) : value;
    Parameter p = new Parameter(name, value, grad, decay, compute);
    created.add(p);
    return p;
  }
}
