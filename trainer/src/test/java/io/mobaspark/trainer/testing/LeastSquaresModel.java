package io.mobaspark.trainer.testing;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.TrainableModel;
import java.util.List;
import java.util.Random;

/**
 * A stand-in model for loop tests: linear least squares on features of each input token,
 * {@code loss = mean_t (w . x(input_t) + b - y(target_t))^2}, with a decayed weight vector {@code w}
 * and an undecayed bias {@code b}. Cheap, deterministic, and its gradient is exact.
 */
public final class LeastSquaresModel implements TrainableModel {
  public static final int FEATURES = 4;

  private final Backend backend;
  private final Parameter weight;
  private final Parameter bias;
  /** When >= 0, the bias gradient of that forwardBackward call (0-based) becomes NaN. */
  private int poisonCall = -1;
  private int calls;

  public LeastSquaresModel(Backend backend, long seed) {
    this.backend = backend;
    weight = new Parameter("w.weight", backend.tensor("w.weight", FEATURES),
        backend.tensor("w.grad", FEATURES), true);
    bias = new Parameter("b.bias", backend.tensor("b.bias", 1), backend.tensor("b.grad", 1), false);
    Random random = new Random(seed);
    double[] w = new double[FEATURES];
    for (int k = 0; k < FEATURES; k++) {
      w[k] = random.nextGaussian() * 0.1;
    }
    backend.write(weight.value(), w);
  }

  /** Makes the {@code call}-th forwardBackward (0-based) produce a NaN gradient for {@code b.bias}. */
  public void poisonGradientOfCall(int call) {
    poisonCall = call;
  }

  @Override
  public List<Parameter> parameters() {
    return List.of(weight, bias);
  }

  @Override
  public double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double gradScale) {
    double[] w = backend.read(weight.value());
    double b = backend.read(bias.value())[0];
    double[] gw = new double[FEATURES];
    double gb = 0;
    double loss = 0;
    int n = inputs.length;
    for (int t = 0; t < n; t++) {
      double[] x = features(inputs[t]);
      double residual = dot(w, x) + b - label(targets[t]);
      loss += residual * residual / n;
      for (int k = 0; k < FEATURES; k++) {
        gw[k] += 2 * residual * x[k] / n;
      }
      gb += 2 * residual / n;
    }
    if (calls++ == poisonCall) {
      gb = Double.NaN;
    }
    accumulate(weight, gw, gradScale);
    accumulate(bias, new double[] {gb}, gradScale);
    return loss;
  }

  /** One linear layer: the location is always that layer's output. */
  @Override
  public String locateNonFinite() {
    return "the linear layer's output";
  }

  @Override
  public double evaluate(int[] inputs, int[] targets, SeqLayout layout) {
    double[] w = backend.read(weight.value());
    double b = backend.read(bias.value())[0];
    double loss = 0;
    for (int t = 0; t < inputs.length; t++) {
      double residual = dot(w, features(inputs[t])) + b - label(targets[t]);
      loss += residual * residual / inputs.length;
    }
    return loss;
  }

  private void accumulate(Parameter p, double[] g, double scale) {
    double[] sum = backend.read(p.grad());
    for (int i = 0; i < g.length; i++) {
      sum[i] += scale * g[i];
    }
    backend.write(p.grad(), sum);
  }

  private static double[] features(int token) {
    double[] x = new double[FEATURES];
    for (int k = 0; k < FEATURES; k++) {
      x[k] = ((token * (k + 3)) % 11) / 11.0 - 0.5;
    }
    return x;
  }

  private static double label(int token) {
    return (token % 7) / 7.0;
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
