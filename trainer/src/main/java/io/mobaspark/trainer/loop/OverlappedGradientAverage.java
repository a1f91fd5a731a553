package io.mobaspark.trainer.loop;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.HostCopy;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.exchange.ExchangeException;
import io.mobaspark.trainer.exchange.GradientExchange;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The data-parallel gradient average of each step, sent group by group while the backward still
 * runs (docs/exchange.md, "Overlap with the backward"). The compute thread starts the copy of each
 * finished group of {@link io.mobaspark.trainer.TrainableModel#gradientGroups} into this rank's host
 * buffers ({@link Backend#readFloatsLater}: on a GPU the copy runs beside the rest of the backward;
 * the buffers are allocated once and kept) and hands it to the sender thread, which waits for the
 * copy and averages the groups one after another in group order: every rank makes the same exchange
 * calls with the same sizes. {@link #finish} sends the groups not sent yet (a rank
 * whose loss went bad stops its micro-batches early but must still take part), then the loss, waits
 * for all of them and writes the means back.
 */
final class OverlappedGradientAverage implements GradientAverage {
  private final Backend backend;
  private final GradientExchange exchange;
  private final List<List<Parameter>> groups;
  /** Per group, its parameters' gradients on the host; averaged in place by the sender. */
  private final List<List<float[]>> host = new ArrayList<>();
  private final ExecutorService sender;
  private final List<Future<?>> sent = new ArrayList<>();
  private int step;
  private int next;

  OverlappedGradientAverage(Backend backend, GradientExchange exchange,
      List<List<Parameter>> groups) {
    this.backend = backend;
    this.exchange = exchange;
    this.groups = groups;
    this.sender = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "gradient-exchange-rank-" + exchange.rank());
      t.setDaemon(true);
      return t;
    });
  }

  /** Starts step {@code step}: no group of it is sent yet. */
  @Override
  public void begin(int step) {
    this.step = step;
    this.next = 0;
    sent.clear();
  }

  /** Group {@code group}'s gradients are final: copies them to the host and queues their average. */
  @Override
  public void groupDone(int group) {
    if (group != next) {
      throw new IllegalStateException("gradient group " + group + " finished after " + next + " of "
          + groups.size() + " groups: they must finish in order");
    }
    List<Parameter> params = groups.get(group);
    if (host.size() == group) {
      List<float[]> buffers = new ArrayList<>(params.size());
      for (Parameter p : params) {
        buffers.add(new float[(int) p.grad().numel()]);
      }
      host.add(buffers);
    }
    List<float[]> buffers = host.get(group);
    HostCopy copy = backend.readFloatsLater(params.stream().map(Parameter::grad).toList(), buffers);
    int at = step;
    sent.add(sender.submit(() -> {
      copy.await();
      exchange.allReduceMean(at, buffers);
    }));
    next++;
  }

  /**
   * Sends what is left and the loss, waits for every average and writes the gradients back.
   *
   * @return the loss averaged over the ranks
   * @throws ExchangeException the first failure of the sender, after all calls have ended
   */
  @Override
  public double finish(double loss) {
    while (next < groups.size()) {
      groupDone(next);
    }
    float[] lossBuffer = {(float) loss};
    int at = step;
    sent.add(sender.submit(() -> exchange.allReduceMean(at, List.of(lossBuffer))));
    awaitAll();
    for (int g = 0; g < groups.size(); g++) {
      List<Parameter> params = groups.get(g);
      for (int i = 0; i < params.size(); i++) {
        backend.write(params.get(i).grad(), host.get(g).get(i));
      }
    }
    return lossBuffer[0];
  }

  private void awaitAll() {
    RuntimeException first = null;
    for (Future<?> f : sent) {
      try {
        f.get();
      } catch (ExecutionException e) {
        if (first == null) {
          first = e.getCause() instanceof RuntimeException r
              ? r
              : new ExchangeException("step " + step + ": the gradient average failed", e.getCause());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ExchangeException("step " + step + ": interrupted while averaging gradients", e);
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /** Ends the sender thread (after a failed step, one exchange call may be left to time out). */
  @Override
  public void close() {
    sender.shutdownNow();
  }
}
