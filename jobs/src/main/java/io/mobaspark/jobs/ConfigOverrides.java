package io.mobaspark.jobs;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Parses repeated {@code --set key=value} options into config overrides. */
final class ConfigOverrides {
  private ConfigOverrides() {}

  static Map<String, String> parse(List<String> assignments) {
    Map<String, String> out = new LinkedHashMap<>();
    if (assignments == null) {
      return out;
    }
    for (String a : assignments) {
      int eq = a.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException(
            "--set expects key=value (e.g. train.max_steps=100), got '" + a + "'");
      }
      out.put(a.substring(0, eq).trim(), a.substring(eq + 1).trim());
    }
    return out;
  }
}
