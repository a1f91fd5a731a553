package io.mobaspark.trainer.optim;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.config.TrainSettings;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019, Algorithm 2)
 * over a model's parameters. Weight decay applies only to parameters marked {@link
 * Parameter#decay()} (matrices and embeddings); norms' gains and biases would be pulled to zero for
 * no benefit. The moment estimates live in the backend beside the weights; they are named
 * {@code exp_avg.<param>} and {@code exp_avg_sq.<param>} as in PyTorch, which is how checkpoints
 * store them.
 */
public final class AdamW implements AutoCloseable {
  public static final String EXP_AVG = "exp_avg.";
  public static final String EXP_AVG_SQ = "exp_avg_sq.";

  private final Backend backend;
  private final List<Tensor> expAvg = new ArrayList<>();
  private final List<Tensor> expAvgSq = new ArrayList<>();
  private final List<Tensor> values;
  private final List<Tensor> grads;
  /** Each parameter's weight decay: weight_decay where it {@link Parameter#decay() decays}, else 0. */
  private final double[] decays;
  private final double beta1;
  private final double beta2;
  private final double eps;

  public AdamW(Backend backend, List<Parameter> parameters, double beta1, double beta2, double eps,
      double weightDecay) {
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException(
          "AdamW betas must be in [0, 1), got beta1=" + beta1 + " beta2=" + beta2);
    }
    if (!(eps > 0) || !(weightDecay >= 0)) {
      throw new IllegalArgumentException(
          "AdamW needs eps > 0 and weight_decay >= 0, got eps=" + eps + " weight_decay=" + weightDecay);
    }
    if (parameters.isEmpty()) {
      throw new IllegalArgumentException("AdamW needs at least one parameter");
    }
    this.backend = backend;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    values = parameters.stream().map(Parameter::value).toList();
    grads = parameters.stream().map(Parameter::grad).toList();
    decays = parameters.stream().mapToDouble(p -> p.decay() ? weightDecay : 0.0).toArray();
    for (Parameter p : parameters) {
      int[] dims = p.value().shape().dims();
      expAvg.add(backend.fp32Tensor(EXP_AVG + p.name(), dims));
      expAvgSq.add(backend.fp32Tensor(EXP_AVG_SQ + p.name(), dims));
    }
  }

  public static AdamW of(Backend backend, List<Parameter> parameters, TrainSettings train) {
    return new AdamW(backend, parameters, train.beta1(), train.beta2(), train.eps(),
        train.weightDecay());
  }

  /**
   * Updates every parameter from its gradient.
   *
   * @param step the 1-based optimizer step (bias correction depends on it)
   */
  public void step(double lr, int step) {
    step(lr, step, 1.0);
  }

  /**
   * Scales every gradient by {@code gradScale} in place ({@link GradientClipping#factor}; 1 leaves
   * them), then updates every parameter: one backend call, which a GPU backend runs as one launch.
   *
   * @param step the 1-based optimizer step (bias correction depends on it)
   */
  public void step(double lr, int step, double gradScale) {
    if (!(lr >= 0) || !Double.isFinite(lr)) {
      throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
    }
    backend.adamwAll(values, grads, expAvg, expAvgSq, gradScale, lr, beta1, beta2, eps, decays, step);
  }

  /** The moment tensors by checkpoint name, in parameter order (first moments, then second). */
  public Map<String, Tensor> state() {
    Map<String, Tensor> state = new LinkedHashMap<>();
    for (Tensor t : expAvg) {
      state.put(t.name(), t);
    }
    for (Tensor t : expAvgSq) {
      state.put(t.name(), t);
    }
    return Collections.unmodifiableMap(state);
  }

  @Override
  public void close() {
    expAvg.forEach(Tensor::close);
    expAvgSq.forEach(Tensor::close);
  }
}
