package io.mobaspark.jobs.preprocess;

import static org.apache.spark.sql.functions.regexp_replace;
import static org.apache.spark.sql.functions.trim;

import org.apache.spark.sql.Column;

/**
 * Whitespace and control-character cleaning as Spark SQL expressions (so Spark RAPIDS runs it on
 * the GPU): no control characters other than newline and tab, no trailing blanks on a line, at most
 * one blank line in a row, nothing blank at either end. Line ends and Unicode form are unified
 * before ({@link TextDocuments#unifyForm}).
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
}
