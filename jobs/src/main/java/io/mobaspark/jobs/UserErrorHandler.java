package io.mobaspark.jobs;

import java.io.UncheckedIOException;
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
    String message = userError != null ? userError.getMessage() : failedTaskUserMessage(e);
    if (message != null) {
      cli.getErr().println("mobaspark " + cli.getCommandName() + ": error: " + message);
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
      if (UserErrors.is(t)) {
        return t;
      }
      if (t instanceof UncheckedIOException && UserErrors.is(t.getCause())) {
        return t;
      }
    }
    return null;
  }

  /**
   * A failed Spark job often reaches the driver as a SparkException whose cause is gone: only its
   * message carries the task's exception, as {@code "...: <class>: <message>\n\tat ..."}. Where that
   * class is a user error, its message is the one to report.
   */
  private static String failedTaskUserMessage(Throwable e) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (t.getMessage() == null) {
        continue;
      }
      String message = UserErrors.quotedMessage(t.getMessage());
      if (message != null) {
        return message;
      }
    }
    return null;
  }
}
