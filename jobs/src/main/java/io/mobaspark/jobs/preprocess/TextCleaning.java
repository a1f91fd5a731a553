package io.mobaspark.jobs.preprocess;

import static org.apache.spark.sql.functions.regexp_replace;
import static org.apache.spark.sql.functions.trim;

import org.apache.spark.sql.Column;

/**
 * Whitespace and control-character cleaning: no control characters other than newline and tab, no
 * trailing blanks (space, tab) on a line, at most one blank line in a row, nothing blank (space,
 * tab, newline) at either end. Line ends and Unicode form are unified before
 * ({@link TextDocuments#unifyForm}); the cleaning does not renormalize.
 *
 * <p>Two implementations of the same function ({@link CleaningPath}): {@link #clean} as Spark SQL
 * expressions, which Spark RAPIDS runs on the GPU, and {@link #cleanText}, one Java pass over the
 * characters for CPU-only clusters. {@code TextCleaningTest} checks that they agree.
 */
final class TextCleaning {
  /** C0 and C1 controls and DEL, except tab (0x09) and newline (0x0A). */
  private static final String CONTROLS = "[\\x00-\\x08\\x0B-\\x1F\\x7F-\\x9F]";

  private TextCleaning() {}

  static Column clean(Column text) {
    Column c = regexp_replace(text, CONTROLS, "");
    c = regexp_replace(c, "[ \\t]+\\n", "\n");
    c = regexp_replace(c, "\\n{3,}", "\n\n");
    // trim with explicit characters, not a "^\\s+|\\s+$" regex: RAPIDS runs StringTrim on the GPU
    // but not a regex with an end anchor.
    return trim(c, " \t\n");
  }

  /**
   * {@link #clean} in one pass, without regex: the same text for every input (the three regex
   * replacements in order, then the trim). Returns {@code text} itself when nothing changes.
   */
  static String cleanText(String text) {
    int n = text.length();
    // The output; null while it is the input's first `len` characters (len == i), so that text
    // with nothing to drop is never copied.
    char[] out = null;
    int len = 0;
    // Where the current run of spaces and tabs began in the output; -1 outside one.
    int blanks = -1;
    for (int i = 0; i < n; i++) {
      char c = text.charAt(i);
      if (c > ' ' && c < 0x7F) {
        blanks = -1; // the common case: printable ASCII
      } else if (c == '\n') {
        if (blanks >= 0) {
          out = copyOnce(text, out, len);
          len = blanks; // the line's trailing blanks: "[ \\t]+\\n" -> "\\n"
          blanks = -1;
        }
        if (len == 0 || (len >= 2 && charAt(text, out, len - 1) == '\n'
            && charAt(text, out, len - 2) == '\n')) {
          // leading (trimmed), or a third newline in a row: "\\n{3,}" -> "\\n\\n"
          out = copyOnce(text, out, len);
          continue;
        }
      } else if (c == ' ' || c == '\t') {
        if (len == 0) {
          out = copyOnce(text, out, len); // leading: trimmed
          continue;
        }
        if (blanks < 0) {
          blanks = len;
        }
      } else if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) {
        out = copyOnce(text, out, len); // CONTROLS: removed
        continue;
      } else {
        blanks = -1;
      }
      if (out != null) {
        out[len] = c;
      }
      len++;
    }
    while (len > 0 && isBlank(charAt(text, out, len - 1))) {
      len--; // trailing: trimmed
    }
    if (out == null) {
      return len == n ? text : text.substring(0, len);
    }
    return new String(out, 0, len);
  }

  private static char charAt(String text, char[] out, int k) {
    return out == null ? text.charAt(k) : out[k];
  }

  /**
   * The output buffer, made at the first character dropped: the input's first {@code len}
   * characters so far.
   */
  private static char[] copyOnce(String text, char[] out, int len) {
    if (out != null) {
      return out;
    }
    char[] copy = new char[text.length()];
    text.getChars(0, len, copy, 0);
    return copy;
  }

  private static boolean isBlank(char c) {
    return c == ' ' || c == '\t' || c == '\n';
  }
}
