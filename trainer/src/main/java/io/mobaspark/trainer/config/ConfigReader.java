package io.mobaspark.trainer.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Typed, range-checked reads from a merged config. Every error names the key, the offending value
 * and where that value came from (file and line, or the command-line override), because a run
 * usually fails far from where its config was written.
 */
final class ConfigReader {
  private final Config config;

  ConfigReader(Config config) {
    this.config = config;
  }

  int intAtLeast(String key, int min) {
    int value;
    try {
      value = config.getInt(key);
    } catch (ConfigException.WrongType e) {
      throw invalid(key, "must be an integer");
    }
    if (value < min) {
      throw invalid(key, "must be >= " + min);
    }
    return value;
  }

  long anyLong(String key) {
    try {
      return config.getLong(key);
    } catch (ConfigException.WrongType e) {
      throw invalid(key, "must be an integer");
    }
  }

  /** A finite number in {@code [min, max]} (or {@code [min, max)} when {@code maxExclusive}). */
  double number(String key, double min, double max, boolean maxExclusive) {
    double value;
    try {
      value = config.getDouble(key);
    } catch (ConfigException.WrongType e) {
      throw invalid(key, "must be a number");
    }
    boolean aboveMax = maxExclusive ? value >= max : value > max;
    if (!Double.isFinite(value) || value < min || aboveMax) {
      String upper = max == Double.MAX_VALUE ? "" : (maxExclusive ? ", < " : ", <= ") + max;
      throw invalid(key, "must be >= " + min + upper);
    }
    return value;
  }

  /** A number strictly above zero. */
  double positive(String key) {
    double value = number(key, 0, Double.MAX_VALUE, false);
    if (value == 0) {
      throw invalid(key, "must be > 0");
    }
    return value;
  }

  boolean bool(String key) {
    try {
      return config.getBoolean(key);
    } catch (ConfigException.WrongType e) {
      throw invalid(key, "must be true or false");
    }
  }

  String string(String key) {
    try {
      return config.getString(key);
    } catch (ConfigException.WrongType e) {
      throw invalid(key, "must be a string");
    }
  }

  String nonBlank(String key) {
    String value = string(key);
    if (value.isBlank()) {
      throw invalid(key, "must not be empty");
    }
    return value;
  }

  /** One of {@code allowed}, case-insensitive; returned in lower case. */
  String oneOf(String key, Set<String> allowed) {
    String value = string(key).trim().toLowerCase(Locale.ROOT);
    if (!allowed.contains(value)) {
      throw invalid(key, "must be one of " + allowed);
    }
    return value;
  }

  /** A size in bytes ({@code 4M}, {@code 65536}) in {@code [min, max]}, a multiple of {@code unit}. */
  int bytes(String key, long min, long max, int unit) {
    long value;
    try {
      value = config.getBytes(key);
    } catch (ConfigException.BadValue | ConfigException.WrongType e) {
      throw invalid(key, "must be a size in bytes, e.g. 4M");
    }
    if (value < min || value > max || value % unit != 0) {
      throw invalid(key, "must be a multiple of " + unit + " bytes in [" + min + ", " + max + "]");
    }
    return (int) value;
  }

  /** A duration ({@code 10m}, {@code 30s}, {@code 500ms}) in whole milliseconds, at least 1 ms. */
  int millis(String key) {
    long value;
    try {
      value = config.getDuration(key, TimeUnit.MILLISECONDS);
    } catch (ConfigException.BadValue | ConfigException.WrongType e) {
      throw invalid(key, "must be a duration, e.g. 10m or 30s");
    }
    if (value < 1 || value > Integer.MAX_VALUE) {
      throw invalid(key, "must be >= 1ms and <= " + Integer.MAX_VALUE + "ms");
    }
    return (int) value;
  }

  IllegalArgumentException invalid(String key, String rule) {
    ConfigValue value = config.getValue(key);
    return new IllegalArgumentException(
        key + " " + rule + ", got " + value.render() + " (" + value.origin().description() + ")");
  }
}
