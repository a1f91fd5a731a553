package io.mobaspark.jobs.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.mobaspark.data.shard.Manifest;
import io.mobaspark.jobs.LocalCluster;
import io.mobaspark.jobs.TestCorpus;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The preprocessing job on two executor JVMs (local-cluster) writes the same dataset as in local
 * mode: the cleaning, dedup and split are functions of the documents, not of where tasks ran.
 */
class PreprocessClusterTest {
  private final PrintStream console = new PrintStream(new ByteArrayOutputStream(), true,
      StandardCharsets.UTF_8);

  @Test
  void clusterRunWritesTheSameDatasetAsLocalMode(@TempDir Path tmp) throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 6, 40);
    Path local = tmp.resolve("local");
    Path cluster = tmp.resolve("cluster");

    SparkSession spark = SparkSession.builder().master("local[2]").appName("preprocess-local")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      PreprocessJob.run(spark, PreprocessJobTest.options(corpus, local, false), console);
    } finally {
      spark.stop();
    }
    spark = LocalCluster.start("preprocess-cluster", 2, 1024, tmp);
    PreprocessResult result;
    try {
      String driverPid = Long.toString(ProcessHandle.current().pid());
      List<String> executorPids = spark.range(0, 4, 1, 4).javaRDD()
          .map(i -> Long.toString(ProcessHandle.current().pid())).collect();
      assertFalse(executorPids.contains(driverPid), "tasks run in executor JVMs");
      result = PreprocessJob.run(spark, PreprocessJobTest.options(corpus, cluster, false), console);
    } finally {
      spark.stop();
    }

    for (String split : List.of("train", "val")) {
      List<String> expected = PreprocessJobTest.documents(local.resolve(split));
      List<String> actual = PreprocessJobTest.documents(cluster.resolve(split));
      assertFalse(expected.isEmpty(), split + " is not empty");
      assertEquals(expected.size(), actual.size(), split + " document count");
      assertEquals(Set.copyOf(expected), new HashSet<>(actual), split + " documents");
      Manifest a = Manifest.read(local.resolve(split).resolve(Manifest.FILE_NAME));
      Manifest b = Manifest.read(cluster.resolve(split).resolve(Manifest.FILE_NAME));
      assertEquals(a.totalTokens(), b.totalTokens(), split + " tokens");
      assertEquals(a.totalDocuments(), b.totalDocuments(), split + " documents in the manifest");
    }
    assertNotEquals(0, result.train().shards().size());
  }
}
