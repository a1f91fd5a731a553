package io.mobaspark.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.ForwardingModel;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.TrainableModel;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.model.Model;
import io.mobaspark.trainer.model.ModelConfig;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.LrSchedule;
import io.mobaspark.trainer.testing.SyntheticWindows;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Test;

/** The data-parallel step sends gradient groups while the backward still runs. */
class OverlappedGradientAverageTest {
  private static final ModelConfig CONFIG = ModelConfig.fromConfig(ConfigFactory.parseString(
      "vocab_size = 11, d_model = 12, layers = 3, heads = 4, kv_heads = 2, head_dim = 4, "
          + "ffn = 20, attention = \"swa,moba,dense\", window = 3, block_size = 2, topk = 2, "
          + "kconv = 3, rope = \"dense,swa\", tie_embeddings = false"));

  @Test
  void theModelsGroupsFollowTheBackwardAndCoverEveryParameterOnce() {
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 1);
        Model model = new Model(backend, CONFIG, 1)) {
      List<List<Parameter>> groups = model.gradientGroups();
      List<String> first = groups.get(0).stream().map(Parameter::name).toList();
      assertEquals(List.of("lm_head.weight"), first, "the LM head's gradient is final first");
      assertEquals(List.of("norm.weight"), groups.get(1).stream().map(Parameter::name).toList());
      assertTrue(groups.get(2).get(0).name().startsWith("layers.2."), "then the last block");
      assertEquals("tok_embeddings.weight", groups.get(groups.size() - 1).get(0).name());
      Set<Parameter> seen = new HashSet<>();
      groups.forEach(g -> g.forEach(p -> assertTrue(seen.add(p), p.name() + " twice")));
      assertEquals(new HashSet<>(model.parameters()), seen);
      assertEquals(2 + CONFIG.layers() + 1, groups.size());
    }
  }

  @Test
  void groupsTravelDuringTheBackwardInOrderAndTheLossLast() {
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 1);
        Model model = new Model(backend, CONFIG, 1);
        AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0.1)) {
      RecordingExchange exchange = new RecordingExchange();
      // The last micro-batch's backward waits after its first group until the exchange has that
      // group: only a step that sends while the backward runs gets past it. The first micro-batch's
      // groups are not final (the second adds to them), so nothing may travel then.
      List<Boolean> sentBeforeNextGroup = new ArrayList<>();
      int[] backwards = {0};
      TrainableModel waiting = new WaitingModel(model, () -> {
        if (++backwards[0] == 1) {
          assertEquals(1, exchange.firstCall.getCount(), "nothing sent during micro-batch 1");
          return;
        }
        try {
          sentBeforeNextGroup.add(exchange.firstCall.await(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
      });
      SyntheticWindows windows = new SyntheticWindows(2, 9, 11);
      List<TokenBatch> batches = List.of(TokenBatch.fromWindows(windows.next(), 2, 8, -1),
          TokenBatch.fromWindows(windows.next(), 2, 8, -1));
      try (TrainStep step = new TrainStep(backend, waiting, adamw, new LrSchedule(1e-3, 0, 0, 4),
          1.0, exchange)) {
        TrainStep.Result result = step.run(1, batches);
        assertTrue(Double.isFinite(result.loss()));
        assertTrue(result.exchangeWaitMillis() >= 0);
      }
      assertEquals(List.of(true), sentBeforeNextGroup, "group 0 reached the exchange first");
      List<Integer> expected = new ArrayList<>();
      for (List<Parameter> g : model.gradientGroups()) {
        expected.add(g.stream().mapToInt(p -> (int) p.grad().numel()).sum());
      }
      expected.add(1); // the loss
      assertEquals(expected, exchange.callSizes);
      assertNotEquals(Thread.currentThread().getName(), exchange.threads.get(0));
      assertEquals(1, new HashSet<>(exchange.threads).size(), "one sender thread");
    }
  }

  /** Rank 0 of 2 that averages with itself: records the calls and leaves the values as they are. */
  private static final class RecordingExchange implements GradientExchange {
    final CountDownLatch firstCall = new CountDownLatch(1);
    final List<Integer> callSizes = new CopyOnWriteArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();

    @Override
    public int rank() {
      return 0;
    }

    @Override
    public int worldSize() {
      return 2;
    }

    @Override
    public void allReduceMean(int step, List<float[]> buffers) {
      callSizes.add(buffers.stream().mapToInt(b -> b.length).sum());
      threads.add(Thread.currentThread().getName());
      firstCall.countDown();
    }

    @Override
    public void close() {}
  }

  /** The model, running {@code afterFirstGroup} when group 0 is reported. */
  private static final class WaitingModel extends ForwardingModel {
    private final Runnable afterFirstGroup;

    WaitingModel(Model inner, Runnable afterFirstGroup) {
      super(inner);
      this.afterFirstGroup = afterFirstGroup;
    }

    @Override
    public double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double gradScale,
        IntConsumer groupDone) {
      return super.forwardBackward(inputs, targets, layout, gradScale, group -> {
        groupDone.accept(group);
        if (group == 0) {
          afterFirstGroup.run();
        }
      });
    }
  }
}
