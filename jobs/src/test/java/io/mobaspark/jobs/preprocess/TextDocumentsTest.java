package io.mobaspark.jobs.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TextDocumentsTest {

  @Test
  void decodeRefusesInvalidUtf8NamingTheFile() {
    assertEquals("café", TextDocuments.decodeUtf8("café".getBytes(StandardCharsets.UTF_8), "a.txt"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TextDocuments.decodeUtf8(new byte[] {'c', (byte) 0xE9}, "books/latin1.txt"));
    assertTrue(e.getMessage().contains("books/latin1.txt"), e.getMessage());
  }

  @Test
  void unifyFormComposesAndUnifiesLineEnds() {
    assertEquals("caf\u00e9\nline\nlast\n", TextDocuments.unifyForm("\uFEFFcafe\u0301\r\nline\rlast\n"));
  }

  @Test
  void chunksAtParagraphBreaksKeepingLongParagraphsWhole() {
    String a = "a".repeat(6);
    String b = "b".repeat(6);
    String c = "c".repeat(20);
    assertEquals(List.of(a + "\n\n" + b, c), TextDocuments.chunk(a + "\n\n" + b + "\n\n" + c, 14));
    assertEquals(List.of("short"), TextDocuments.chunk("short", 0));
    assertEquals(List.of(), TextDocuments.chunk("", 10));
  }

  @Test
  void inputFormatFollowsTheNameUnlessGiven() {
    assertEquals(InputFormat.JSONL, InputFormat.guess("s3a://bucket/part-0.jsonl"));
    assertEquals(InputFormat.PARQUET, InputFormat.guess("/data/docs.parquet/"));
    assertEquals(InputFormat.TEXT, InputFormat.guess("data/corpus/gutenberg"));
    assertEquals(null, InputFormat.parse("auto"));
    assertEquals(InputFormat.PARQUET, InputFormat.parse("Parquet"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> InputFormat.parse("csv"));
    assertTrue(e.getMessage().contains("csv"), e.getMessage());
  }
}
