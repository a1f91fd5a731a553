package io.mobaspark.jobs.preprocess;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.length;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java cleaning ({@link TextCleaning#cleanText}, {@link TextDocuments#cleanDocuments}) gives
 * exactly the documents of the SQL cleaning and length filter, as Spark computes them.
 */
class TextCleaningTest {
  private static SparkSession spark;

  /** Inputs that have tripped cleaners: every rule, its edges, and what must be left alone. */
  static final List<String> TRICKY = List.of(
      "", " ", "\t", "\n", " \t\n \n\t ", "a", " a ", "\ta\t", "\na\n",
      "line one\r\nline two\r\n", "cr only\rnext", "\r\n\r\n\r\n",
      "tabs\tinside\tkept", "trailing tab\t\nnext", "trailing mix \t \t\nnext",
      "a\n\nb", "a\n\n\nb", "a\n\n\n\n\n\nb", "a\n \n\t\n  \nb", "a \n \n \n b",
      "nbsp\u00a0kept\u00a0\nand trailing nbsp\u00a0", "\u00a0leading nbsp",
      "ideographic\u3000space\u3000", "zero\u200bwidth\u200c\u200djoiners\u2060",
      "bom\ufeffinside", "\ufeffbom first", "line\u2028sep\u2029para",
      "emoji \ud83d\ude00 pair\t\n\ud83d\udc4d", "\ud834\udd1e clef at start",
      "ctrl\u0000nul", "bell\u0007", "\u0001\u0002 leading controls", "vt\u000bff\u000c",
      "esc\u001b[0m", "del\u007f", "c1\u0080\u0085\u009f end", "\u00a0\u009f\u00a0",
      "blank \u0001\nline", "a \u0007 \nb", "a\n\u0001\n\u0002\nb", "\u0085\n\n\n\u0085",
      "e\u0001\u0301 accent after a control", "caf\u00e9 cafe\u0301",
      "   \u0007   ", "\u0000", "\t\u0001\n\u0002 \u0003", "end   ", "end\n\n\n",
      "x".repeat(40) + " \n" + "y".repeat(3));

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[1]").appName("TextCleaningTest")
        .config("spark.ui.enabled", "false").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** Each text cleaned by the SQL expressions, with its SQL length, in input order. */
  private static List<Row> cleanedBySql(List<String> texts) {
    return spark.createDataset(texts, Encoders.STRING()).toDF("text")
        .select(TextCleaning.clean(col("text")).as("text"))
        .select(col("text"), length(col("text")).as("length"))
        .collectAsList();
  }

  private static void assertSameAsSql(List<String> texts) {
    List<Row> sql = cleanedBySql(texts);
    assertEquals(texts.size(), sql.size());
    for (int i = 0; i < texts.size(); i++) {
      String input = texts.get(i);
      String jvm = TextCleaning.cleanText(input);
      assertEquals(sql.get(i).getString(0), jvm, () -> "cleaning " + escaped(input));
      assertEquals(sql.get(i).getInt(1), jvm.codePointCount(0, jvm.length()),
          () -> "length of " + escaped(input));
    }
  }

  @Test
  void trickyInputsCleanAsInSql() {
    assertSameAsSql(TRICKY);
  }

  @Test
  void randomMixesOfTheTrickyCharactersCleanAsInSql() {
    // Every character class the rules look at, with weights that make runs of them common.
    String[] alphabet = {"a", "b", " ", " ", "\t", "\n", "\n", "\n", "\r", "\u0000", "\u0007",
        "\u000b", "\u001f", "\u007f", "\u0085", "\u009f", "\u00a0", "\u200b", "\ufeff", "\u00e9",
        "\u0301", "\ud83d\ude00", "\u3000"};
    Random random = new Random(20261201);
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      StringBuilder s = new StringBuilder();
      int n = random.nextInt(24);
      for (int k = 0; k < n; k++) {
        s.append(alphabet[random.nextInt(alphabet.length)]);
      }
      texts.add(s.toString());
    }
    assertSameAsSql(texts);
  }

  @Test
  void unchangedTextIsNotCopied() {
    String clean = "nothing to clean here\n\nat all";
    assertSame(clean, TextCleaning.cleanText(clean));
  }

  /**
   * The whole JVM function (unify, chunk, clean, filter by code points) against the SQL path's
   * stages over the same chunks, with limits that cut through surrogate pairs' UTF-16 lengths.
   */
  @Test
  void cleanDocumentsKeepsWhatTheSqlFilterKeeps() {
    List<String> texts = new ArrayList<>(TRICKY);
    texts.add("\ud83d\ude00\ud83d\ude00\ud83d\ude00"); // 3 code points, 6 UTF-16 units
    texts.add("para one\r\n\r\npara \ud83d\ude00 two \t\r\n\r\n\r\n\u0007para three");
    for (int[] limits : new int[][] {{1, 0}, {3, 0}, {4, 0}, {3, 5}, {6, 6}, {1, 3}}) {
      int min = limits[0];
      int max = limits[1];
      for (int chunkChars : new int[] {0, 12}) {
        List<String> chunks = new ArrayList<>();
        for (String t : texts) {
          chunks.addAll(TextDocuments.chunk(TextDocuments.unifyForm(t), chunkChars));
        }
        List<String> expected = new ArrayList<>();
        for (Row r : cleanedBySql(chunks)) {
          if (r.getInt(1) >= min && (max == 0 || r.getInt(1) <= max)) {
            expected.add(r.getString(0));
          }
        }
        AtomicLong read = new AtomicLong();
        List<String> actual = new ArrayList<>();
        for (String t : texts) {
          actual.addAll(TextDocuments.cleanDocuments(t, chunkChars, min, max, read::addAndGet));
        }
        String where = "limits [" + min + ", " + max + "], chunks of " + chunkChars;
        assertEquals(expected, actual, where);
        assertEquals(chunks.size(), read.get(), "documents read, " + where);
      }
    }
  }

  @Test
  void cleaningPathParsesAndResolvesByThePlugin() {
    assertEquals(CleaningPath.AUTO, CleaningPath.parse(null));
    assertEquals(CleaningPath.JVM, CleaningPath.parse("JVM"));
    assertEquals(CleaningPath.SQL, CleaningPath.parse(" sql "));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CleaningPath.parse("gpu"));
    assertTrue(e.getMessage().contains("--cleaning") && e.getMessage().contains("'gpu'"),
        e.getMessage());

    SparkConf plain = new SparkConf(false);
    SparkConf rapids = new SparkConf(false)
        .set("spark.plugins", "org.example.Other, com.nvidia.spark.SQLPlugin");
    assertEquals(CleaningPath.JVM, CleaningPath.AUTO.resolve(plain));
    assertEquals(CleaningPath.SQL, CleaningPath.AUTO.resolve(rapids));
    assertEquals(CleaningPath.JVM, CleaningPath.JVM.resolve(rapids), "an explicit path wins");
    assertEquals(CleaningPath.SQL, CleaningPath.SQL.resolve(plain), "an explicit path wins");
    assertEquals(CleaningPath.JVM, CleaningPath.AUTO.resolve(
        new SparkConf(false).set("spark.plugins", "com.nvidia.spark.SQLPluginX")));
  }

  private static String escaped(String s) {
    StringBuilder b = new StringBuilder("\"");
    s.codePoints().forEach(c -> b.append(c >= 0x20 && c < 0x7F ? Character.toString(c)
        : String.format("\\u%04x", c)));
    return b.append('"').toString();
  }
}
