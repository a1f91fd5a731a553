package io.mobaspark.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** A folder of UTF-8 {@code .txt} files as documents, one per file: the committed corpus' form. */
public final class CorpusFiles {
  private CorpusFiles() {}

  /** The {@code .txt} files directly in {@code dir}, sorted by name so packing is reproducible. */
  public static List<Path> textFiles(Path dir) throws IOException {
    if (dir == null || !Files.isDirectory(dir)) {
      throw new IllegalArgumentException("corpus folder " + dir + " is not a folder");
    }
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".txt"))
          .filter(Files::isRegularFile)
          .sorted()
          .collect(Collectors.toList());
    }
  }

  /**
   * Each file's text as one document, read when the iterator reaches it, so memory holds one file.
   * A file that is not valid UTF-8 fails with an {@link UncheckedIOException} naming it.
   */
  public static Iterator<String> documents(List<Path> files) {
    if (files == null) {
      throw new IllegalArgumentException("corpus file list is null");
    }
    List<Path> copy = List.copyOf(files);
    return new Iterator<>() {
      private int next;

      @Override
      public boolean hasNext() {
        return next < copy.size();
      }

      @Override
      public String next() {
        if (!hasNext()) {
          throw new NoSuchElementException("all " + copy.size() + " corpus files were read");
        }
        Path file = copy.get(next++);
        try {
          return Files.readString(file);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read corpus file " + file + " as UTF-8", e);
        }
      }
    };
  }
}
