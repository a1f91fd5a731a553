package io.mobaspark.jobs.pretrain;

import io.mobaspark.trainer.config.ExchangeSettings;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.exchange.DriverAggregator;
import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.GradientExchanges;
import java.util.List;

/**
 * The driver's side of a run's gradient exchange: a fresh secret per run, the {@link
 * DriverAggregator} when {@code exchange.kind = driver}, and the spec the training tasks get. It
 * lives as long as the run, across retried stages (a retried stage reconnects and gets a new
 * session), and is closed when the run ends.
 */
final class ExchangeHost implements AutoCloseable {
  private final ExchangeSpec spec;
  private final DriverAggregator aggregator;

  private ExchangeHost(ExchangeSpec spec, DriverAggregator aggregator) {
    this.spec = spec;
    this.aggregator = aggregator;
  }

  /**
   * @param driverHost the driver's address as the executors reach it ({@code spark.driver.host})
   */
  static ExchangeHost start(PretrainConfig config, String driverHost) {
    int ranks = config.run().ranks();
    if (ranks == 1) {
      return new ExchangeHost(ExchangeSpec.local(), null);
    }
    ExchangeSettings x = config.exchange();
    String secret = GradientExchanges.newSecret();
    return switch (x.kind()) {
      case LOCAL -> throw new IllegalArgumentException(
          "exchange.kind must be driver, ring or shared");
      case RING, SHARED -> new ExchangeHost(new ExchangeSpec(x.kind(), ranks, "", secret,
          x.bucketBytes(), x.wire(), x.timeoutMillis()), null);
      case DRIVER -> {
        DriverAggregator started = DriverAggregator.start(driverHost, x.port(), ranks, secret,
            x.bucketBytes(), x.wire(), x.timeoutMillis());
        yield new ExchangeHost(started.spec(), started);
      }
    };
  }

  /** What every training task joins with (secret included: it travels inside the task). */
  ExchangeSpec spec() {
    return spec;
  }

  /** Connections the driver aggregator refused (a wrong secret, a foreign peer), oldest first. */
  List<String> refusals() {
    return aggregator == null ? List.of() : aggregator.refusals();
  }

  @Override
  public void close() {
    if (aggregator != null) {
      aggregator.close();
    }
  }
}
