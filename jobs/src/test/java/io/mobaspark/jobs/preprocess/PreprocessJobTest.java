package io.mobaspark.jobs.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.Dataset;
import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.jobs.TestCorpus;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreprocessJobTest {
  private static SparkSession spark;
  private static JavaSparkContext jsc;
  private final PrintStream console = new PrintStream(new ByteArrayOutputStream(), true,
      StandardCharsets.UTF_8);

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("PreprocessJobTest")
        .config("spark.ui.enabled", "false").getOrCreate();
    jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  private static PreprocessOptions options(Path input, Path output, boolean overwrite) {
    return new PreprocessOptions(List.of(input), output, Tokenizers.BYTES, 0.3, 5000, 2000, 3,
        overwrite);
  }

  @Test
  void writesTrainAndValDatasetsHoldingEveryByteOfEveryDocument(@TempDir Path tmp)
      throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 5, 30);
    PreprocessResult result = PreprocessJob.run(jsc, options(corpus, tmp.resolve("out"), false),
        console);

    long expectedBytes = 0;
    long expectedDocs = 0;
    try (Stream<Path> files = Files.list(corpus)) {
      for (Path f : files.sorted().toList()) {
        String text = TextDocuments.normalize(Files.readString(f));
        for (String doc : TextDocuments.chunk(text, 2000)) {
          expectedBytes += doc.getBytes(StandardCharsets.UTF_8).length;
          expectedDocs++;
        }
      }
    }
    assertNotNull(result.val());
    assertEquals(5, result.files());
    assertEquals(expectedDocs, result.documents());
    // bytes tokenizer: one token per UTF-8 byte plus one end-of-text per document.
    assertEquals(expectedBytes + expectedDocs,
        result.train().totalTokens() + result.val().totalTokens());
    assertEquals(expectedDocs, result.train().totalDocuments() + result.val().totalDocuments());
    assertTrue(result.val().totalDocuments() > 0 && result.train().totalDocuments() > 0);
    assertTrue(result.train().shards().size() > 1, "5000-token shards: several");
    for (var shard : result.train().shards()) {
      assertTrue(shard.tokens() <= 5000, shard.toString());
    }
    try (Dataset train = Dataset.open(tmp.resolve("out/train"), true);
        Dataset val = Dataset.open(tmp.resolve("out/val"), true)) {
      assertEquals(result.train().totalTokens(), train.totalTokens());
      assertEquals(result.val().totalTokens(), val.totalTokens());
      assertEquals(256, train.eotId());
    }
  }

  @Test
  void sameInputGivesByteIdenticalManifestsAndRefusesToOverwriteUnasked(@TempDir Path tmp)
      throws Exception {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 4, 20);
    Path out = tmp.resolve("out");
    PreprocessJob.run(jsc, options(corpus, out, false), console);
    String first = Files.readString(out.resolve("train").resolve(Manifest.FILE_NAME));

    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
        () -> PreprocessJob.run(jsc, options(corpus, out, false), console));
    assertTrue(refused.getMessage().contains("already holds a dataset"), refused.getMessage());
    assertTrue(refused.getMessage().contains("--overwrite"), refused.getMessage());

    PreprocessJob.run(jsc, options(corpus, out, true), console);
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

    PreprocessResult result = PreprocessJob.run(jsc, options(corpus, out, false), console);
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
        () -> PreprocessJob.run(jsc, options(corpus, tmp.resolve("out"), false), console));
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
        () -> PreprocessJob.run(jsc, options(tmp.resolve("nope"), tmp.resolve("out"), false),
            console));
    assertTrue(missing.getMessage().contains("nope"), missing.getMessage());

    Path empty = Files.createDirectories(tmp.resolve("empty"));
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
        () -> PreprocessJob.run(jsc, options(empty, tmp.resolve("out"), false), console));
    assertTrue(none.getMessage().contains("no .txt files"), none.getMessage());

    Path blank = Files.createDirectories(tmp.resolve("blank"));
    Files.writeString(blank.resolve("a.txt"), " \n\n \r\n");
    IllegalArgumentException noText = assertThrows(IllegalArgumentException.class,
        () -> PreprocessJob.run(jsc, options(blank, tmp.resolve("out2"), false), console));
    assertTrue(noText.getMessage().contains("no text"), noText.getMessage());
  }
}
