package io.mobaspark.jobs.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.tokenizer.Tokenizers;
import java.lang.reflect.Method;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.MutableURLClassLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The preprocessing plan under Spark RAPIDS in explain-only mode (no GPU needed): the cleaning,
 * filter and dedup stages must be ones the plugin would run on the GPU.
 */
class RapidsPlanTest {

  /** One operator or expression of the explain text: its marker, kind and name, and its lines. */
  private record Entry(char marker, String name, String text) {}

  /** An entry starts with a marker: * on GPU, ^ on GPU via the CPU bridge, ! not on GPU, @ or #. */
  private static final Pattern ENTRY = Pattern.compile("^\\s*([*!^@#])(\\w+) <(\\w+)>");

  /**
   * Which parts of a plan may stay on the CPU: the Java UDFs of the read stage (strict UTF-8 decode,
   * NFC and chunking) by design, and {@code AQEShuffleReadExec}, which explain mode reports as not
   * on the GPU although it is only a by-product of explaining with adaptive execution.
   */
  private static final Set<String> ALLOWED_ON_CPU = Set.of("ScalaUDF", "AQEShuffleReadExec");

  @Test
  void cleaningFilterDedupAndSplitWouldRunOnTheGpu(@TempDir Path tmp) throws Exception {
    List<Entry> plan = explainWithRapids(tmp);
    for (String exec : List.of("FileSourceScanExec", "GenerateExec", "FilterExec", "ProjectExec",
        "ShuffleExchangeExec", "HashAggregateExec")) {
      assertTrue(plan.stream().anyMatch(e -> e.name().equals(exec) && e.marker() == '*'),
          exec + " on the GPU in\n" + plan);
    }
    for (String expression : List.of("RegExpReplace", "StringTrim", "Length", "XxHash64", "Pmod")) {
      List<Entry> found = plan.stream().filter(e -> e.name().equals(expression)).toList();
      assertFalse(found.isEmpty(), expression + " is part of the plan");
      found.forEach(e -> assertEquals('*', e.marker(), "on the GPU: " + e.text()));
    }
    for (Entry e : plan) {
      if (e.marker() != '*' && e.marker() != '@' && e.marker() != '#') {
        assertTrue(ALLOWED_ON_CPU.contains(e.name()), "only the documented parts on the CPU: "
            + e.text());
      }
    }
  }

  /** The cleaned, filtered, deduplicated and split JSONL documents, as RAPIDS would plan them. */
  private static List<Entry> explainWithRapids(Path tmp) throws Exception {
    Path jar = Path.of(System.getProperty("mobaspark.rapids.jar",
        "target/rapids/rapids-4-spark.jar"));
    assertTrue(Files.isRegularFile(jar), "the build copies the RAPIDS jar to " + jar);
    // The plugin's shim loader needs a class loader it can add to, as spark-submit --jars gives.
    ClassLoader parent = Thread.currentThread().getContextClassLoader();
    MutableURLClassLoader loader =
        new MutableURLClassLoader(new URL[] {jar.toUri().toURL()}, parent);
    Thread.currentThread().setContextClassLoader(loader);
    Path jsonl = tmp.resolve("docs.jsonl");
    Files.writeString(jsonl, "{\"text\": \"one\"}\n{\"text\": \"two\"}\n");
    try (SparkSession spark = SparkSession.builder().master("local[2]").appName("RapidsPlanTest")
        .config("spark.plugins", "com.nvidia.spark.SQLPlugin")
        .config("spark.rapids.sql.mode", "explainOnly")
        .getOrCreate()) {
      PreprocessOptions options = new PreprocessOptions(List.of(jsonl.toString()), null, "text",
          tmp.resolve("out"), Tokenizers.BYTES, 0.1, 1000, 0, 1, 100, 2, false, null);
      assertEquals(CleaningPath.SQL, DocumentPipeline.cleaningPath(spark, options),
          "--cleaning auto takes the SQL path under the plugin");
      Dataset<Row> cleaned = DocumentPipeline.cleaned(spark, options,
          spark.sparkContext().longAccumulator("chunks read"));
      Dataset<Row> documents = DocumentPipeline.deduplicated(
          DocumentPipeline.filtered(cleaned, options), options);
      Method explain = loader.loadClass("com.nvidia.spark.rapids.ExplainPlan")
          .getMethod("explainPotentialGpuPlan", Dataset.class, String.class);
      return parse((String) explain.invoke(null, documents, "ALL"));
    } finally {
      Thread.currentThread().setContextClassLoader(parent);
    }
  }

  /** Splits the explain text into entries; an expression's text may span lines. */
  private static List<Entry> parse(String explained) {
    List<Entry> entries = new ArrayList<>();
    StringBuilder text = null;
    Matcher head = null;
    for (String line : explained.split("\n")) {
      Matcher m = ENTRY.matcher(line);
      if (m.find()) {
        if (head != null) {
          entries.add(new Entry(head.group(1).charAt(0), head.group(3), text.toString()));
        }
        head = m;
        text = new StringBuilder(line);
      } else if (text != null) {
        text.append('\n').append(line);
      }
    }
    if (head != null) {
      entries.add(new Entry(head.group(1).charAt(0), head.group(3), text.toString()));
    }
    assertFalse(entries.isEmpty(), "an explain text:\n" + explained);
    return entries;
  }
}
