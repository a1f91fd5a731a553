package io.mobaspark.jobs;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code mobaspark} command: {@code preprocess}, {@code pretrain}, {@code demo}, {@code env}. The same class is
 * the {@code spark-submit --class} entry point of the job jar.
 */
@Command(
    name = "mobaspark",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Pretrain long-context language models with Mixture of Block Attention on Spark.",
    subcommands = {
      PreprocessCommand.class,
      PretrainCommand.class,
      DemoCommand.class,
      EnvCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit code (0 ok, 1 failure, 2 bad input). */
  public static int run(String... args) {
    return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
  }

  /** Runs the command line with picocli's messages and errors going to {@code out} and {@code err}. */
  static int run(PrintWriter out, PrintWriter err, String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setExecutionExceptionHandler(new UserErrorHandler());
    return cli.execute(args);
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
