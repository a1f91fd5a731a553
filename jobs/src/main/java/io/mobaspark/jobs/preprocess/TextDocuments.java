package io.mobaspark.jobs.preprocess;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/** Turns the bytes of a text file into clean training documents. */
public final class TextDocuments {
  private TextDocuments() {}

  /** Strict UTF-8: a file with invalid bytes is refused, naming the file and the byte offset. */
  public static String decodeUtf8(byte[] bytes, String file) {
    // The String constructor decodes far faster than a CharsetDecoder (an ASCII fast path, no
    // CharBuffer to copy from) but replaces invalid bytes with U+FFFD. Without a U+FFFD in its
    // result the bytes were valid and both decode them alike; with one (invalid bytes, or a
    // genuine U+FFFD in the file) the strict decoder decides.
    String lenient = new String(bytes, StandardCharsets.UTF_8);
    if (lenient.indexOf('\uFFFD') < 0) {
      return lenient;
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("input file " + file + " is not valid UTF-8 ("
          + e.getMessage() + "); convert it first, e.g. iconv -f ISO-8859-1 -t UTF-8", e);
    }
  }

  /**
   * Unicode NFC, LF line ends, no byte-order mark: what must hold before chunking at paragraph
   * breaks. The rest of the cleaning is SQL ({@link TextCleaning}).
   */
  public static String unifyForm(String text) {
    // Most text is already NFC: the check is a scan, normalize would build a copy regardless.
    String s = Normalizer.isNormalized(text, Normalizer.Form.NFC) ? text
        : Normalizer.normalize(text, Normalizer.Form.NFC);
    if (!s.isEmpty() && s.charAt(0) == '\uFEFF') {
      s = s.substring(1);
    }
    return s.indexOf('\r') < 0 ? s : s.replace("\r\n", "\n").replace('\r', '\n');
  }

  /**
   * The cleaned documents of one text with the Java cleaning ({@link CleaningPath#JVM}): unified,
   * chunked, each chunk cleaned ({@link TextCleaning#cleanText}) and kept when its length in code
   * points (SQL's {@code length}) is within {@code [minChars, maxChars]}, {@code maxChars = 0}
   * meaning no limit: what the SQL path's read, clean and filter stages give, in one function.
   *
   * @param chunks gets the number of chunks before the length filter (documents read)
   */
  public static List<String> cleanDocuments(String text, int chunkChars, int minChars,
      int maxChars, LongConsumer chunks) {
    if (text == null) {
      chunks.accept(0);
      return List.of();
    }
    List<String> documents = chunk(unifyForm(text), chunkChars);
    chunks.accept(documents.size());
    List<String> kept = new ArrayList<>(documents.size());
    for (String document : documents) {
      String clean = TextCleaning.cleanText(document);
      // A text of u UTF-16 units has between u/2 and u code points: count them only when that
      // range straddles a limit.
      int units = clean.length();
      boolean within = units >= 2L * minChars && (maxChars == 0 || units <= maxChars);
      if (!within && units >= minChars) {
        int chars = clean.codePointCount(0, units);
        within = chars >= minChars && (maxChars == 0 || chars <= maxChars);
      }
      if (within) {
        kept.add(clean);
      }
    }
    return kept;
  }

  /**
   * Splits a long text at paragraph breaks into documents of at most about {@code maxChars}
   * characters (a single longer paragraph stays whole); {@code maxChars <= 0} keeps the text whole.
   * Books become many documents, so that a hash split gives a validation set from every book.
   */
  public static List<String> chunk(String text, int maxChars) {
    List<String> docs = new ArrayList<>();
    if (text.isEmpty()) {
      return docs;
    }
    if (maxChars <= 0 || text.length() <= maxChars) {
      docs.add(text);
      return docs;
    }
    // The paragraphs are the pieces of text.split("\n\n"), trailing empty ones dropped; a chunk
    // joins consecutive ones with "\n\n", leaving out empty ones before its first text. That join
    // is the text itself from the chunk's first non-empty paragraph to its last paragraph: a
    // substring, found with indexOf (no regex, no copy but the chunk's). Empty paragraphs wait in
    // `pendingEmpty` until a non-empty one follows, which is how the trailing ones are dropped.
    int chunkStart = -1;
    int chunkEnd = -1;
    int pendingEmpty = 0;
    int start = 0;
    while (true) {
      int breakAt = text.indexOf("\n\n", start);
      int end = breakAt < 0 ? text.length() : breakAt;
      if (end == start) {
        pendingEmpty++;
      } else {
        for (; pendingEmpty > 0; pendingEmpty--) {
          if (chunkStart >= 0 && chunkEnd - chunkStart + 2 > maxChars) {
            docs.add(text.substring(chunkStart, chunkEnd));
            chunkStart = -1;
          }
          if (chunkStart >= 0) {
            chunkEnd += 2; // "\n\n" and the empty paragraph
          }
        }
        if (chunkStart >= 0 && chunkEnd - chunkStart + 2 + (end - start) > maxChars) {
          docs.add(text.substring(chunkStart, chunkEnd));
          chunkStart = -1;
        }
        if (chunkStart < 0) {
          chunkStart = start;
        }
        chunkEnd = end;
      }
      if (breakAt < 0) {
        break;
      }
      start = breakAt + 2;
    }
    if (chunkStart >= 0) {
      docs.add(text.substring(chunkStart, chunkEnd));
    }
    return docs;
  }
}
