package io.mobaspark.jobs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** A small synthetic text corpus: a few files of repetitive English-like paragraphs. */
public final class TestCorpus {
  private TestCorpus() {}

  /** Writes {@code files} text files of {@code paragraphs} paragraphs each under {@code dir}. */
  public static Path write(Path dir, int files, int paragraphs) throws IOException {
    Files.createDirectories(dir);
    String[] words = {"the", "river", "ran", "past", "a", "quiet", "mill", "and", "old", "stone",
        "bridge", "where", "children", "played", "in", "summer", "light"};
    for (int f = 0; f < files; f++) {
      StringBuilder text = new StringBuilder();
      for (int p = 0; p < paragraphs; p++) {
        for (int w = 0; w < 40; w++) {
          text.append(words[(f * 7 + p * 3 + w * w) % words.length]).append(w % 9 == 8 ? ". " : " ");
        }
        text.append(String.format(Locale.ROOT, "Paragraph %d of book %d.%n%n", p, f));
      }
      Files.writeString(dir.resolve(String.format(Locale.ROOT, "book-%02d.txt", f)),
          text.toString(), StandardCharsets.UTF_8);
    }
    return dir;
  }
}
