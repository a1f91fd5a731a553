package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.jobs.LocalCluster;
import io.mobaspark.trainer.exchange.DriverAggregator;
import io.mobaspark.trainer.exchange.ExchangeException;
import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.GradientExchanges;
import io.mobaspark.trainer.exchange.WireDType;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Barrier stages on two real executor JVMs, each task given the GPU of its worker. */
class BarrierStageTest {
  @TempDir static Path scratch;
  private static SparkSession spark;

  @BeforeAll
  static void startCluster() throws Exception {
    spark = LocalCluster.start("BarrierStageTest", 2, 1024, scratch);
  }

  @AfterAll
  static void stopCluster() {
    spark.stop();
  }

  @Test
  void everyRankGetsAGpuAndTheRendezvousOfAll() {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    List<String> results = BarrierStage.run(jsc, 2, rank -> {
      long pid = ProcessHandle.current().pid();
      List<String> all = rank.allGather(rank.host() + "/" + pid);
      return rank.rank() + "|" + rank.worldSize() + "|" + rank.gpu().orElse("none") + "|" + pid
          + "|" + String.join(",", all);
    });
    assertEquals(2, results.size());
    String[] r0 = results.get(0).split("\\|");
    String[] r1 = results.get(1).split("\\|");
    assertEquals("0", r0[0]);
    assertEquals("1", r1[0]);
    assertEquals("2", r0[1]);
    assertEquals("0", r0[2], "rank 0 got its worker's GPU");
    assertEquals("0", r1[2], "rank 1 got its worker's GPU");
    assertNotEquals(r0[3], r1[3], "one executor JVM per rank");
    assertEquals(r0[4], r1[4], "both saw the same all-gather");
    assertTrue(r0[4].contains("/" + r0[3]) && r0[4].contains("/" + r1[3]), r0[4]);
  }

  @Test
  void localModeNeverAsksForGpus() {
    var conf = new org.apache.spark.SparkConf().setMaster("local[2]")
        .set("spark.executor.resource.gpu.amount", "1");
    assertTrue(!BarrierStage.schedulesGpus(conf));
    assertTrue(BarrierStage.schedulesGpus(spark.sparkContext().getConf()));
  }

  /**
   * Issue 4 (d) across JVMs: each executor first knocks with a forged run secret and is turned
   * away, then both join with the run's secret and the exchange serves them.
   */
  @Test
  void theDriverRefusesExecutorsWithAWrongSecretAndServesTheRun() throws Exception {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    String driverHost = spark.sparkContext().getConf().get("spark.driver.host");
    try (DriverAggregator driver = DriverAggregator.start(driverHost, 0, 2,
        GradientExchanges.newSecret(), 1024, WireDType.FP32, 20_000)) {
      ExchangeSpec real = driver.spec();
      ExchangeSpec forged = new ExchangeSpec(real.kind(), real.worldSize(), real.driverAddress(),
          GradientExchanges.newSecret(), real.bucketBytes(), real.wire(), real.timeoutMillis());
      List<String> results = BarrierStage.run(jsc, 2, rank -> {
        String intruder;
        try (GradientExchange admitted = GradientExchanges.open(forged, rank.rank(), rank.host(),
            null)) {
          intruder = "admitted with the forged secret";
        } catch (ExchangeException e) {
          intruder = e.getMessage();
        }
        try (GradientExchange exchange = GradientExchanges.open(real, rank.rank(), rank.host(),
            null)) {
          float[] values = {rank.rank() + 1};
          exchange.allReduceMean(1, List.of(values));
          return values[0] + "|" + intruder;
        }
      });
      for (String r : results) {
        assertTrue(r.startsWith("1.5|"), "the real ranks exchanged: " + r);
        assertTrue(r.contains("authentication failed (its run secret differs)"), r);
      }
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (driver.refusals().size() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertEquals(2, driver.refusals().size(), driver.refusals().toString());
    }
  }
}
