package io.mobaspark.jobs;

import io.mobaspark.data.shard.ManifestException;
import io.mobaspark.data.shard.ShardFormatException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The exception types that mean bad input (a wrong config value, a missing or damaged shard) rather
 * than a bug or a failing machine: the command reports them as one line with exit code 2, and a
 * training stage that fails with one is not retried, since a retry would fail the same way.
 */
public final class UserErrors {
  private static final List<Class<? extends Exception>> TYPES = List.of(
      IllegalArgumentException.class, NoSuchFileException.class, ShardFormatException.class,
      ManifestException.class);

  /** {@code "<class>: <message>"} for one of {@link #TYPES}, as a failed Spark job's text quotes it. */
  private static final Pattern QUOTED = Pattern.compile(TYPES.stream()
      .map(c -> Pattern.quote(c.getName())).collect(Collectors.joining("|", "(?:", ")"))
      + ": ([^\\n]+)");

  private UserErrors() {}

  /** True when {@code t} is bad input. */
  public static boolean is(Throwable t) {
    return TYPES.stream().anyMatch(c -> c.isInstance(t));
  }

  /** True when {@code className} (a failed task's exception class) names a bad-input type. */
  public static boolean isClassName(String className) {
    return TYPES.stream().anyMatch(c -> c.getName().equals(className));
  }

  /** The message of the first bad-input exception quoted in {@code text}, or null. */
  public static String quotedMessage(String text) {
    var m = QUOTED.matcher(text);
    return m.find() ? m.group(1) : null;
  }
}
