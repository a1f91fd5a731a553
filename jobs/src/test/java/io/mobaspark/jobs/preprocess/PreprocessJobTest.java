package io.mobaspark.jobs.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.Dataset;
import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.jobs.TestCorpus;
import io.mobaspark.jobs.TestSchemeFileSystem;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreprocessJobTest {
  private static SparkSession spark;
  private final PrintStream console = new PrintStream(new ByteArrayOutputStream(), true,
      StandardCharsets.UTF_8);

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("PreprocessJobTest")
        .config("spark.ui.enabled", "false").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  static PreprocessOptions options(Path input, Path output, boolean overwrite) {
    return PreprocessOptions.textFiles(List.of(input.toString()), output, Tokenizers.BYTES, 0.3,
        5000, 2000, 3, overwrite);
  }

  /** Every document of a bytes-tokenized dataset, decoded. */
  static List<String> documents(Path dir) throws Exception {
    List<String> docs = new ArrayList<>();
    try (Dataset data = Dataset.open(dir, true)) {
      ByteArrayOutputStream current = new ByteArrayOutputStream();
      for (int s = 0; s < data.shardCount(); s++) {
        var shard = data.shard(s);
        for (long i = 0; i < shard.tokens(); i++) {
          int t = shard.token(i);
          if (t == data.eotId()) {
            docs.add(current.toString(StandardCharsets.UTF_8));
            current.reset();
          } else {
            current.write(t);
          }
        }
      }
    }
    return docs;
  }

  @Test
  void writesEveryDocumentOnceSplitIntoTrainAndVal(@TempDir Path tmp) throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 5, 30);
    PreprocessResult result = PreprocessJob.run(spark, options(corpus, tmp.resolve("out"), false),
        console);

    List<String> expected = new ArrayList<>();
    try (Stream<Path> files = Files.list(corpus)) {
      for (Path f : files.sorted().toList()) {
        for (String chunk : TextDocuments.chunk(Files.readString(f), 2000)) {
          expected.add(chunk.strip());
        }
      }
    }
    List<String> train = documents(tmp.resolve("out/train"));
    List<String> val = documents(tmp.resolve("out/val"));
    List<String> all = new ArrayList<>(train);
    all.addAll(val);
    assertEquals(new HashSet<>(expected), new HashSet<>(all));
    assertEquals(expected.size(), all.size(), "each document exactly once");
    assertFalse(train.isEmpty() || val.isEmpty(), "both splits: " + train.size() + "/" + val.size());
    assertEquals(expected.size(), result.documentsRead());
    assertEquals(0, result.duplicates());
    assertTrue(result.train().shards().size() > 1, "5000-token shards: several");
    for (var shard : result.train().shards()) {
      assertTrue(shard.tokens() <= 5000, shard.toString());
    }
  }

  @Test
  void printsEachPackedPartitionOnceWithProgressAndEta(@TempDir Path tmp) throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 4, 20);
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    PreprocessJob.run(spark, options(corpus, tmp.resolve("out"), false),
        new PrintStream(printed, true, StandardCharsets.UTF_8));
    List<String> lines = printed.toString(StandardCharsets.UTF_8).lines().toList();
    for (String split : List.of("train", "val")) {
      for (int k = 1; k <= 3; k++) {
        String prefix = "[preprocess " + split + "] " + k + "/3 partitions packed, ";
        assertEquals(1, lines.stream().filter(l -> l.startsWith(prefix) && l.contains(" ETA "))
            .count(), prefix + " once in " + lines);
      }
    }
  }

  @Test
  void removesDuplicatesAndDocumentsOutsideTheLengthLimitsAcrossFormats(@TempDir Path tmp)
      throws Exception {
    Path jsonl = tmp.resolve("docs.jsonl");
    Files.writeString(jsonl, String.join("\n",
        "{\"text\": \"A first document, long enough.\", \"id\": 1}",
        "{\"text\": \"A first document, long enough.\", \"id\": 2}",
        "{\"text\": \"  \\r\\n \", \"id\": 3}",
        "{\"text\": \"tiny\", \"id\": 4}",
        "{\"id\": 5}",
        "{\"text\": \"Cafe\\u0301 and control\\u0007 chars,  trailing \\n\\n\\n\\nend\", \"id\": 6}"));
    Path parquet = tmp.resolve("docs.parquet");
    spark.createDataFrame(List.of(RowFactory.create("A first document, long enough."),
            RowFactory.create("A Parquet document of fair length.")),
        new StructType().add("body", DataTypes.StringType)).write().parquet(parquet.toString());

    PreprocessOptions jsonlOnly = new PreprocessOptions(List.of(jsonl.toString(),
        parquet.toString()), null, "text", tmp.resolve("out"), Tokenizers.BYTES, 0, 1000, 0, 10,
        0, 2, false, null);
    IllegalArgumentException noField = assertThrows(IllegalArgumentException.class,
        () -> PreprocessJob.run(spark, jsonlOnly, console));
    assertTrue(noField.getMessage().contains("'text'") && noField.getMessage().contains("body"),
        noField.getMessage());

    Path parquetAsText = tmp.resolve("renamed.parquet");
    spark.read().parquet(parquet.toString()).withColumnRenamed("body", "text").write()
        .parquet(parquetAsText.toString());
    PreprocessOptions both = new PreprocessOptions(List.of(jsonl.toString(),
        parquetAsText.toString()), null, "text", tmp.resolve("out"), Tokenizers.BYTES, 0, 1000, 0,
        10, 0, 2, false, null);
    PreprocessResult result = PreprocessJob.run(spark, both, console);

    assertEquals(7, result.documentsRead(), "the line without a text field has no document");
    assertEquals(2, result.outsideLimits(), "blank and 'tiny' are under 10 characters");
    assertEquals(2, result.duplicates(), "the first document three times");
    assertNull(result.val());
    assertEquals(Set.of("A first document, long enough.", "A Parquet document of fair length.",
            "Caf\u00e9 and control chars,  trailing\n\nend"),
        new HashSet<>(documents(tmp.resolve("out/train"))));
  }

  /**
   * The SQL and the JVM cleaning paths write the same bytes: the cleaning, length filter, dedup
   * (documents that become equal only once cleaned) and split agree on inputs that trip cleaners.
   */
  @Test
  void sqlAndJvmCleaningWriteByteIdenticalDatasets(@TempDir Path tmp) throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 3, 20);
    List<String> tricky = new ArrayList<>(TextCleaningTest.TRICKY);
    tricky.add("same once  \t\nclean");
    tricky.add("same once\r\n\u0007clean");
    Files.writeString(corpus.resolve("tricky.txt"), String.join("\r\n\r\n", tricky));
    Files.writeString(corpus.resolve("paragraphs.txt"), String.join("\n\n\n", tricky));
    Path jsonl = tmp.resolve("tricky.jsonl");
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    StringBuilder lines = new StringBuilder();
    for (String t : tricky) {
      lines.append(json.writeValueAsString(java.util.Map.of("text", t))).append('\n');
    }
    Files.writeString(jsonl, lines);

    List<PreprocessResult> results = new ArrayList<>();
    for (CleaningPath path : List.of(CleaningPath.SQL, CleaningPath.JVM)) {
      PreprocessOptions options = new PreprocessOptions(List.of(corpus.toString(),
          jsonl.toString()), null, "text", tmp.resolve(path.name()), Tokenizers.BYTES, 0.3, 500,
          60, 3, 0, 3, false, path);
      results.add(PreprocessJob.run(spark, options, console));
    }
    PreprocessResult sql = results.get(0);
    PreprocessResult jvm = results.get(1);
    assertEquals(sql.documentsRead(), jvm.documentsRead());
    assertEquals(sql.outsideLimits(), jvm.outsideLimits());
    assertEquals(sql.duplicates(), jvm.duplicates());
    assertTrue(sql.outsideLimits() > 0 && sql.duplicates() > 0,
        "the corpus exercises both filters: " + sql.summary());
    for (String split : List.of("train", "val")) {
      Path a = tmp.resolve("SQL").resolve(split);
      Path b = tmp.resolve("JVM").resolve(split);
      assertEquals(Files.readString(a.resolve(Manifest.FILE_NAME)),
          Files.readString(b.resolve(Manifest.FILE_NAME)), split + " manifest");
      try (Stream<Path> files = Files.list(a)) {
        for (Path f : files.sorted().toList()) {
          assertTrue(java.util.Arrays.equals(Files.readAllBytes(f),
              Files.readAllBytes(b.resolve(f.getFileName()))), f.getFileName() + " of " + split);
        }
      }
    }
  }

  /**
   * Text files on a Hadoop FileSystem that only the session's Hadoop configuration knows (its
   * FileSystem cache off, so that no instance made on the driver can stand in): the read tasks
   * reach it through that configuration, and the dataset is the one the local path gives.
   */
  @Test
  void readsTextFilesThroughTheSessionsHadoopFileSystems(@TempDir Path tmp) throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 3, 20);
    var hadoop = spark.sparkContext().hadoopConfiguration();
    String noCache = "fs." + TestSchemeFileSystem.SCHEME + ".impl.disable.cache";
    hadoop.set(TestSchemeFileSystem.IMPL_KEY, TestSchemeFileSystem.class.getName());
    hadoop.setBoolean(noCache, true);
    try {
      PreprocessJob.run(spark, PreprocessOptions.textFiles(
          List.of(TestSchemeFileSystem.uri(corpus)), tmp.resolve("remote"), Tokenizers.BYTES, 0.3,
          5000, 2000, 3, false), console);
    } finally {
      hadoop.unset(TestSchemeFileSystem.IMPL_KEY);
      hadoop.unset(noCache);
    }
    PreprocessJob.run(spark, options(corpus, tmp.resolve("local"), false), console);
    for (String split : List.of("train", "val")) {
      assertEquals(Files.readString(tmp.resolve("local").resolve(split).resolve(Manifest.FILE_NAME)),
          Files.readString(tmp.resolve("remote").resolve(split).resolve(Manifest.FILE_NAME)), split);
    }
  }

  @Test
  void sameInputGivesByteIdenticalManifestsAndRefusesToOverwriteUnasked(@TempDir Path tmp)
      throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 4, 20);
    Path out = tmp.resolve("out");
    PreprocessJob.run(spark, options(corpus, out, false), console);
    String first = Files.readString(out.resolve("train").resolve(Manifest.FILE_NAME));

    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
        () -> PreprocessJob.run(spark, options(corpus, out, false), console));
    assertTrue(refused.getMessage().contains("already holds a dataset"), refused.getMessage());
    assertTrue(refused.getMessage().contains("--overwrite"), refused.getMessage());

    PreprocessJob.run(spark, options(corpus, out, true), console);
    assertEquals(first, Files.readString(out.resolve("train").resolve(Manifest.FILE_NAME)));
  }

  @Test
  void rerunAfterACrashLeavesNoStaleShards(@TempDir Path tmp) throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 3, 20);
    Path out = tmp.resolve("out");
    // What a crashed run leaves: shards and a temp file, no manifest.
    Files.createDirectories(out.resolve("train"));
    Files.writeString(out.resolve("train/part-00099-00000.arrow"), "half written");
    Files.writeString(out.resolve("train/.part-00000-00000.arrow.1234.tmp"), "temp");

    PreprocessResult result = PreprocessJob.run(spark, options(corpus, out, false), console);
    Set<String> listed = new HashSet<>();
    result.train().shards().forEach(s -> listed.add(s.file()));
    try (Stream<Path> files = Files.list(out.resolve("train"))) {
      Set<String> onDisk = new HashSet<>();
      files.map(p -> p.getFileName().toString()).filter(n -> !n.equals(Manifest.FILE_NAME))
          .forEach(onDisk::add);
      assertEquals(listed, onDisk);
    }
  }

  @Test
  void refusesInvalidUtf8NamingTheFile(@TempDir Path tmp) throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 2, 5);
    Path bad = corpus.resolve("latin1.txt");
    Files.write(bad, new byte[] {'c', 'a', 'f', (byte) 0xE9, '\n'});
    Exception e = assertThrows(Exception.class,
        () -> PreprocessJob.run(spark, options(corpus, tmp.resolve("out"), false), console));
    Throwable cause = e;
    while (!(cause instanceof IllegalArgumentException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    assertTrue(cause.getMessage().contains(bad.toString()), cause.getMessage());
    assertTrue(cause.getMessage().contains("UTF-8"), cause.getMessage());
    assertFalse(Files.exists(tmp.resolve("out/train").resolve(Manifest.FILE_NAME)));
  }

  @Test
  void refusesMissingAndEmptyInputs(@TempDir Path tmp) throws Exception {
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> PreprocessJob.run(spark, options(tmp.resolve("nope"), tmp.resolve("out"), false),
            console));
    assertTrue(missing.getMessage().contains("nope"), missing.getMessage());

    Path empty = Files.createDirectories(tmp.resolve("empty"));
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
        () -> PreprocessJob.run(spark, options(empty, tmp.resolve("out"), false), console));
    assertTrue(none.getMessage().contains("holds no documents"), none.getMessage());

    Path blank = Files.createDirectories(tmp.resolve("blank"));
    Files.writeString(blank.resolve("a.txt"), " \n\n \r\n");
    IllegalArgumentException noText = assertThrows(IllegalArgumentException.class,
        () -> PreprocessJob.run(spark, options(blank, tmp.resolve("out2"), false), console));
    assertTrue(noText.getMessage().contains("no document is within --min-chars"),
        noText.getMessage());
  }
}
