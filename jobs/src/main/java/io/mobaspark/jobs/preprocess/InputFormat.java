package io.mobaspark.jobs.preprocess;

import java.util.Locale;

/** How the preprocess job reads its inputs. */
public enum InputFormat {
  /** Plain text files ({@code *.txt} under folders), one document per file before chunking. */
  TEXT,
  /** JSON Lines: one object per line, the document in a string field. */
  JSONL,
  /** Parquet with the document in a string column. */
  PARQUET;

  /**
   * The format a path's name suggests: {@code .jsonl}/{@code .json} → JSONL, {@code .parquet} →
   * PARQUET, anything else (a {@code .txt} file or a folder of them) → TEXT.
   */
  public static InputFormat guess(String path) {
    String name = path.toLowerCase(Locale.ROOT).replaceAll("/+$", "");
    if (name.endsWith(".jsonl") || name.endsWith(".json") || name.endsWith(".jsonl.gz")) {
      return JSONL;
    }
    if (name.endsWith(".parquet")) {
      return PARQUET;
    }
    return TEXT;
  }

  /** Parses {@code auto}, {@code text}, {@code jsonl} or {@code parquet}; null means auto. */
  public static InputFormat parse(String name) {
    if (name == null || name.equalsIgnoreCase("auto")) {
      return null;
    }
    try {
      return valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--format must be auto, text, jsonl or parquet, got '" + name + "'", e);
    }
  }
}
