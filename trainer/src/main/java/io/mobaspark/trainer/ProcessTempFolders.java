package io.mobaspark.trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Temp folders named after the process that made them, {@code <prefix>pid<pid>-<tag><random>}. A
 * process killed by its cluster manager (SIGKILL: no finally block or shutdown hook runs) leaves
 * its folders behind; the next process that makes one with the same prefix on that machine removes
 * those whose process has ended ({@link #sweepEnded}). A folder of a live process stays, so
 * several executors may share a temp folder.
 */
public final class ProcessTempFolders {
  private ProcessTempFolders() {}

  /**
   * Creates {@code <parent>/<prefix>pid<this pid>-<tag><random>}; owner-only on POSIX file
   * systems, as {@link Files#createTempDirectory} makes them.
   */
  public static Path create(Path parent, String prefix, String tag) throws IOException {
    return Files.createTempDirectory(parent, prefix + "pid" + ProcessHandle.current().pid() + "-"
        + tag);
  }

  /**
   * Deletes the folders {@code <prefix>pid<N>-...} in {@code parent} whose process N has ended, and
   * returns them; {@code log} hears of each removal and of what could not be done. Anything whose
   * name carries no owner stays.
   */
  public static List<Path> sweepEnded(Path parent, String prefix, Consumer<String> log) {
    Pattern owner = Pattern.compile(Pattern.quote(prefix) + "pid(\\d+)-.*");
    List<Path> removed = new ArrayList<>();
    try (Stream<Path> children = Files.list(parent)) {
      for (Path dir : (Iterable<Path>) children::iterator) {
        Matcher m = owner.matcher(dir.getFileName().toString());
        if (m.matches() && Files.isDirectory(dir) && !alive(Long.parseLong(m.group(1)))) {
          log.accept("removing " + dir + " of ended process " + m.group(1));
          delete(dir, log);
          removed.add(dir);
        }
      }
    } catch (IOException | UncheckedIOException | NumberFormatException e) {
      log.accept("cannot sweep old " + prefix + " folders in " + parent + ": " + e.getMessage());
    }
    return removed;
  }

  /** Deletes a folder and everything under it, best effort: {@code log} hears of a failure. */
  public static void delete(Path folder, Consumer<String> log) {
    try (Stream<Path> paths = Files.walk(folder)) {
      for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    } catch (IOException | UncheckedIOException e) {
      log.accept("cannot delete " + folder + ": " + e.getMessage());
    }
  }

  private static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }
}
