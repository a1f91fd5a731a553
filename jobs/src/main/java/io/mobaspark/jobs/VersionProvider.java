package io.mobaspark.jobs;

import picocli.CommandLine;

/** {@code mobaspark --version}: the project and Spark versions. */
final class VersionProvider implements CommandLine.IVersionProvider {
  @Override
  public String[] getVersion() {
    String own = Main.class.getPackage().getImplementationVersion();
    return new String[] {
      "MoBA-Spark " + (own == null ? "(development build)" : own),
      "Spark " + org.apache.spark.package$.MODULE$.SPARK_VERSION()
    };
  }
}
