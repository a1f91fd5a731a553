package io.mobaspark.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.TrainableModel;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.LrSchedule;
import io.mobaspark.trainer.testing.LeastSquaresModel;
import io.mobaspark.trainer.testing.SyntheticWindows;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TrainStepTest {
  private static final int SEQ_LEN = 8;
  private static final LrSchedule SCHEDULE = new LrSchedule(0.01, 0.001, 0, 10);

  private final CpuBackend backend = new CpuBackend(Precision.FLOAT64, 2);

  @AfterEach
  void close() {
    backend.close();
  }

  @Test
  void twoHalfMicroBatchesGiveTheGradientOfOneFullBatch() {
    LeastSquaresModel full = new LeastSquaresModel(backend, 7);
    LeastSquaresModel halves = new LeastSquaresModel(backend, 7);
    TrainStep.Result one = step(full, microBatches(1, 4));
    TrainStep.Result two = step(halves, microBatches(2, 2));

    assertEquals(one.loss(), two.loss(), 1e-15);
    assertEquals(one.gradNorm(), two.gradNorm(), 1e-15);
    for (int i = 0; i < full.parameters().size(); i++) {
      Parameter a = full.parameters().get(i);
      Parameter b = halves.parameters().get(i);
      assertArrayEquals(backend.read(a.grad()), backend.read(b.grad()), 1e-15, a.name());
      assertArrayEquals(backend.read(a.value()), backend.read(b.value()), 1e-15, a.name());
    }
  }

  @Test
  void gradientsStartFromZeroEachStep() {
    LeastSquaresModel model = new LeastSquaresModel(backend, 7);
    List<TokenBatch> batches = microBatches(1, 2);
    TokenBatch batch = batches.get(0);
    try (AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0)) {
      TrainStep trainStep = new TrainStep(backend, model, adamw, SCHEDULE, 0);
      trainStep.run(1, batches);
      // The gradient the second step should see: a fresh model at the same weights, one pass.
      LeastSquaresModel reference = new LeastSquaresModel(backend, 7);
      for (int i = 0; i < model.parameters().size(); i++) {
        backend.copy(reference.parameters().get(i).value(), model.parameters().get(i).value());
      }
      reference.forwardBackward(batch.inputs(), batch.targets(), batch.layout(), 1.0);
      trainStep.run(2, batches);
      for (int i = 0; i < model.parameters().size(); i++) {
        assertArrayEquals(backend.read(reference.parameters().get(i).grad()),
            backend.read(model.parameters().get(i).grad()), 1e-15);
      }
    }
  }

  @Test
  void aNonFiniteGradientNamesStepAndParameterAndUpdatesNothing() {
    LeastSquaresModel model = new LeastSquaresModel(backend, 7);
    model.poisonGradientOfCall(1);
    try (AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0.1)) {
      TrainStep trainStep = new TrainStep(backend, model, adamw, SCHEDULE, 1.0);
      trainStep.run(1, microBatches(1, 2));
      List<double[]> before = snapshot(model, adamw);
      TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
          () -> trainStep.run(2, microBatches(1, 2)));
      assertEquals(2, e.step());
      assertTrue(e.getMessage().contains("step 2") && e.getMessage().contains("'b.bias'"),
          e.getMessage());
      List<double[]> after = snapshot(model, adamw);
      for (int i = 0; i < before.size(); i++) {
        assertArrayEquals(before.get(i), after.get(i), 0, "tensor " + i + " unchanged");
      }
    }
  }

  @Test
  void aNonFiniteLossIsRefused() {
    LeastSquaresModel inner = new LeastSquaresModel(backend, 7);
    TrainableModel infinite = new TrainableModel() {
      @Override
      public List<Parameter> parameters() {
        return inner.parameters();
      }

      @Override
      public double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double scale) {
        inner.forwardBackward(inputs, targets, layout, scale);
        return Double.POSITIVE_INFINITY;
      }

      @Override
      public double evaluate(int[] inputs, int[] targets, SeqLayout layout) {
        return inner.evaluate(inputs, targets, layout);
      }

      @Override
      public String locateNonFinite() {
        return "the stand-in's output";
      }
    };
    try (AdamW adamw = new AdamW(backend, infinite.parameters(), 0.9, 0.95, 1e-8, 0.1)) {
      TrainStep trainStep = new TrainStep(backend, infinite, adamw, SCHEDULE, 1.0);
      TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
          () -> trainStep.run(5, microBatches(2, 1)));
      assertTrue(e.getMessage().contains("step 5") && e.getMessage().contains("micro-batch 1/2")
          && e.getMessage().contains("first non-finite activation: the stand-in's output"),
          e.getMessage());
    }
  }

  private TrainStep.Result step(LeastSquaresModel model, List<TokenBatch> batches) {
    try (AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0.1)) {
      return new TrainStep(backend, model, adamw, SCHEDULE, 0).run(1, batches);
    }
  }

  /** The same 4 windows (cursors 0..3) split into {@code count} micro-batches of {@code size}. */
  private static List<TokenBatch> microBatches(int count, int size) {
    SyntheticWindows windows = new SyntheticWindows(size, SEQ_LEN + 1, 50);
    List<TokenBatch> batches = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      batches.add(TokenBatch.fromWindows(windows.next(), size, SEQ_LEN, -1));
    }
    return batches;
  }

  private List<double[]> snapshot(LeastSquaresModel model, AdamW adamw) {
    List<double[]> values = new ArrayList<>();
    model.parameters().forEach(p -> values.add(backend.read(p.value())));
    adamw.state().values().forEach(t -> values.add(backend.read(t)));
    return values;
  }
}
