package io.mobaspark.jobs.preprocess;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Expands the job's {@code --input} paths into the text files it reads, in a stable order. */
final class InputFiles {
  private InputFiles() {}

  /**
   * Each folder contributes its {@code *.txt} files (recursively, sorted by path); each file is
   * taken as given. Missing, unreadable or empty inputs are refused with the path named.
   */
  static List<Path> resolve(List<Path> inputs) throws IOException {
    List<Path> files = new ArrayList<>();
    for (Path input : inputs) {
      if (!Files.exists(input)) {
        throw new IllegalArgumentException("--input " + input + " does not exist");
      }
      if (Files.isDirectory(input)) {
        try (Stream<Path> walk = Files.walk(input)) {
          List<Path> found = walk.filter(Files::isRegularFile)
              .filter(p -> p.getFileName().toString().endsWith(".txt"))
              .sorted()
              .toList();
          if (found.isEmpty()) {
            throw new IllegalArgumentException("--input " + input + " holds no .txt files");
          }
          files.addAll(found);
        }
      } else {
        files.add(input);
      }
    }
    for (Path f : files) {
      if (!Files.isReadable(f)) {
        throw new IllegalArgumentException("input file " + f + " is not readable");
      }
    }
    return files;
  }
}
