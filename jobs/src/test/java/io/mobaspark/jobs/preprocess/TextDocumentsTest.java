package io.mobaspark.jobs.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TextDocumentsTest {

  @Test
  void decodeRefusesInvalidUtf8NamingTheFile() {
    assertEquals("café", TextDocuments.decodeUtf8("café".getBytes(StandardCharsets.UTF_8), "a.txt"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TextDocuments.decodeUtf8(new byte[] {'c', (byte) 0xE9}, "books/latin1.txt"));
    assertTrue(e.getMessage().contains("books/latin1.txt"), e.getMessage());
  }

  /**
   * The decoding's fast path (the lenient String constructor) must refuse exactly what the strict
   * decoder refuses: every kind of invalid sequence, alone and amid valid text, and a genuine
   * U+FFFD must still decode.
   */
  @Test
  void decodeAcceptsExactlyValidUtf8() {
    String withReplacement = "a \uFFFD b \uD83D\uDE00";
    assertEquals(withReplacement, TextDocuments.decodeUtf8(
        withReplacement.getBytes(StandardCharsets.UTF_8), "r.txt"));
    byte[][] invalid = {
        {(byte) 0x80}, // lone continuation byte
        {(byte) 0xC3}, // truncated 2-byte sequence
        {(byte) 0xC0, (byte) 0xAF}, // overlong '/'
        {(byte) 0xE0, (byte) 0x80, (byte) 0xAF}, // overlong 3-byte
        {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, // UTF-16 surrogate D800 (CESU-8)
        {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, // above U+10FFFF
        {(byte) 0xF5, (byte) 0x80, (byte) 0x80, (byte) 0x80}, // invalid lead byte
        {(byte) 0xFF},
    };
    for (byte[] bad : invalid) {
      for (String around : List.of("", "text before and after ")) {
        byte[] ascii = around.getBytes(StandardCharsets.US_ASCII);
        byte[] bytes = new byte[2 * ascii.length + bad.length];
        System.arraycopy(ascii, 0, bytes, 0, ascii.length);
        System.arraycopy(bad, 0, bytes, ascii.length, bad.length);
        System.arraycopy(ascii, 0, bytes, ascii.length + bad.length, ascii.length);
        assertThrows(IllegalArgumentException.class,
            () -> TextDocuments.decodeUtf8(bytes, "bad.txt"), () -> Arrays.toString(bad));
      }
    }
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

  /** The chunking as first written (split at "\n\n", join in a StringBuilder): the reference. */
  private static List<String> chunkBySplit(String text, int maxChars) {
    List<String> docs = new ArrayList<>();
    if (text.isEmpty()) {
      return docs;
    }
    if (maxChars <= 0 || text.length() <= maxChars) {
      docs.add(text);
      return docs;
    }
    StringBuilder current = new StringBuilder();
    for (String paragraph : text.split("\n\n")) {
      if (current.length() > 0 && current.length() + 2 + paragraph.length() > maxChars) {
        docs.add(current.toString());
        current.setLength(0);
      }
      if (current.length() > 0) {
        current.append("\n\n");
      }
      current.append(paragraph);
    }
    if (current.length() > 0) {
      docs.add(current.toString());
    }
    return docs;
  }

  @Test
  void chunksAsSplittingAndJoiningWouldOnRandomText() {
    String[] pieces = {"a", "bb", "ccc", "\n", "\n\n", "\n\n\n", " ", "x".repeat(9)};
    Random random = new Random(7);
    for (int i = 0; i < 50_000; i++) {
      StringBuilder s = new StringBuilder();
      int n = random.nextInt(16);
      for (int k = 0; k < n; k++) {
        s.append(pieces[random.nextInt(pieces.length)]);
      }
      String text = s.toString();
      int maxChars = random.nextInt(14);
      assertEquals(chunkBySplit(text, maxChars), TextDocuments.chunk(text, maxChars),
          () -> "chunks of " + maxChars + " of " + text.replace("\n", "\\n"));
    }
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
