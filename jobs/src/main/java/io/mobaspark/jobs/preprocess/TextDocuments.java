package io.mobaspark.jobs.preprocess;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;

/** Turns the bytes of a text file into clean training documents. */
public final class TextDocuments {
  private TextDocuments() {}

  /** Strict UTF-8: a file with invalid bytes is refused, naming the file and the byte offset. */
  public static String decodeUtf8(byte[] bytes, String file) {
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
    String s = Normalizer.normalize(text, Normalizer.Form.NFC);
    if (!s.isEmpty() && s.charAt(0) == '\uFEFF') {
      s = s.substring(1);
    }
    return s.replace("\r\n", "\n").replace('\r', '\n');
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
}
