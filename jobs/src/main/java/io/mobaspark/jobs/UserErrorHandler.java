package io.mobaspark.jobs;

import io.mobaspark.data.shard.ManifestException;
import io.mobaspark.data.shard.ShardFormatException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;

/**
 * Bad input (a wrong config key, a missing shard, a block size of 0) is reported as one line naming
 * what was wrong, exit code 2; anything else is a bug or an environment failure and keeps its stack
 * trace, exit code 1.
 */
final class UserErrorHandler implements CommandLine.IExecutionExceptionHandler {
  @Override
  public int handleExecutionException(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
    Throwable userError = findUserError(e);
    if (userError != null) {
      cli.getErr().println("mobaspark " + cli.getCommandName() + ": error: " + userError.getMessage());
      return 2;
    }
    e.printStackTrace(cli.getErr());
    return 1;
  }

  /**
   * Spark wraps a task's exception in a SparkException: look through the causes. An
   * {@link UncheckedIOException} around a user error carries the context (which config key, which
   * dataset), so it is reported rather than the bare cause.
   */
  private static Throwable findUserError(Throwable e) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (isUserError(t)) {
        return t;
      }
      if (t instanceof UncheckedIOException && isUserError(t.getCause())) {
        return t;
      }
    }
    return null;
  }

  private static boolean isUserError(Throwable t) {
    return t instanceof IllegalArgumentException
        || t instanceof NoSuchFileException
        || t instanceof ShardFormatException
        || t instanceof ManifestException;
  }
}
