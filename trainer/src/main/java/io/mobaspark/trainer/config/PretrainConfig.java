package io.mobaspark.trainer.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.WireDType;
import io.mobaspark.trainer.model.ModelConfig;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;

/**
 * The resolved configuration of one pretraining run: the defaults of {@value #DEFAULTS_RESOURCE}
 * (which includes {@code model-defaults.conf}), overlaid by an optional HOCON file, overlaid by
 * {@code key=value} overrides. As in nanoGPT, a key that has no default is an error rather than a
 * silently ignored typo.
 *
 * <p>Serializable so that Spark can ship it to the training task: it keeps the resolved config as a
 * JSON string plus the validated sections, and re-parses the string on the other side.
 */
public final class PretrainConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The classpath resource that holds every key and its default. */
  public static final String DEFAULTS_RESOURCE = "mobaspark-defaults.conf";

  private static final Set<String> BACKENDS = Set.of("auto", "cpu", "cuda");
  private static final Set<String> EXCHANGE_KINDS = Set.of("driver", "ring", "shared");
  private static final Set<String> WIRES = Set.of("fp32", "bf16");
  private static final String OVERRIDE_ORIGIN = "command-line override";

  private final String json;
  private final TrainSettings train;
  private final DataSettings data;
  private final RunSettings run;
  private final ExchangeSettings exchange;
  private transient Config config;

  private PretrainConfig(Config config) {
    this.config = config;
    this.json = config.root().render(ConfigRenderOptions.concise());
    ConfigReader reader = new ConfigReader(config);
    this.train = readTrain(reader);
    this.data = new DataSettings(reader.string("data.train"), reader.string("data.val"));
    this.run = new RunSettings(runDir(reader), reader.oneOf("run.backend", BACKENDS),
        reader.intAtLeast("run.threads", 0), reader.intAtLeast("run.ranks", 1));
    if (train.maxMinutes() > 0 && run.ranks() > 1) {
      // Each rank would read its own clock and stop at its own step, leaving the others waiting in
      // the exchange.
      throw reader.invalid("train.max_minutes", "needs run.ranks = 1 (is " + run.ranks()
          + "); bound a run of several ranks by train.max_steps");
    }
    this.exchange = readExchange(reader);
    model();
  }

  /**
   * Loads the defaults, then {@code overrideFile} (may be null), then {@code overrides}
   * ({@code "train.lr" -> "3e-4"}), and validates every value.
   *
   * @throws IllegalArgumentException for a missing or unparsable file, a key that has no default
   *     (naming the key and the file), or an invalid value (naming key, value and origin)
   */
  public static PretrainConfig load(Path overrideFile, Map<String, String> overrides) {
    if (overrides == null) {
      throw new IllegalArgumentException("overrides must not be null (pass Map.of())");
    }
    Config defaults = ConfigFactory.parseResources(PretrainConfig.class.getClassLoader(),
        DEFAULTS_RESOURCE, ConfigParseOptions.defaults().setAllowMissing(false));
    Config merged = defaults;
    if (overrideFile != null) {
      Config file = parseFile(overrideFile);
      requireKnownKeys(defaults, file);
      merged = file.withFallback(merged);
    }
    if (!overrides.isEmpty()) {
      Config cli;
      try {
        cli = ConfigFactory.parseMap(overrides, OVERRIDE_ORIGIN);
      } catch (ConfigException e) {
        throw new IllegalArgumentException("invalid override keys " + overrides.keySet() + ": "
            + e.getMessage(), e);
      }
      requireKnownKeys(defaults, cli);
      merged = cli.withFallback(merged);
    }
    try {
      return new PretrainConfig(merged.resolve());
    } catch (ConfigException e) {
      throw new IllegalArgumentException("invalid configuration: " + e.getMessage(), e);
    }
  }

  /** The {@code train} section. */
  public TrainSettings train() {
    return train;
  }

  /** The {@code data} section. */
  public DataSettings data() {
    return data;
  }

  /** The {@code run} section. */
  public RunSettings run() {
    return run;
  }

  /** The {@code exchange} section. */
  public ExchangeSettings exchange() {
    return exchange;
  }

  /** The validated {@code model} section. */
  public ModelConfig model() {
    return ModelConfig.fromConfig(modelSection());
  }

  /** The raw {@code model} section: what checkpoints compare to refuse another model's weights. */
  public Config modelSection() {
    return config().getConfig(ModelConfig.SECTION);
  }

  /** The whole resolved config. */
  public Config config() {
    return config;
  }

  /** The resolved config as one line of JSON (what checkpoints record). */
  public String toJson() {
    return json;
  }

  @Override
  public String toString() {
    return "PretrainConfig" + json;
  }

  private static Config parseFile(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("config file " + file + " does not exist or is not a file");
    }
    try {
      return ConfigFactory.parseFile(file.toFile(),
          ConfigParseOptions.defaults().setAllowMissing(false));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("cannot parse config file " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Every leaf of {@code layer} must name a leaf of the defaults. The origin names the file and line
   * (also of an included file) or the command-line override.
   */
  private static void requireKnownKeys(Config defaults, Config layer) {
    for (Map.Entry<String, ConfigValue> entry : layer.entrySet()) {
      String key = entry.getKey();
      String where = entry.getValue().origin().description();
      if (!defaults.hasPathOrNull(key)) {
        throw new IllegalArgumentException("unknown config key '" + key + "' in " + where
            + knownSiblings(defaults, key));
      }
      if (defaults.getValue(key).valueType() == ConfigValueType.OBJECT) {
        throw new IllegalArgumentException("config key '" + key + "' in " + where
            + " is a section, not a value; set its keys instead" + knownSiblings(defaults, key + ".x"));
      }
    }
  }

  /** A hint listing the keys that do exist next to {@code key}. */
  private static String knownSiblings(Config defaults, String key) {
    int dot = key.lastIndexOf('.');
    if (dot < 0) {
      return "; known sections: " + new TreeSet<>(defaults.root().keySet());
    }
    String section = key.substring(0, dot);
    if (!defaults.hasPath(section)
        || defaults.getValue(section).valueType() != ConfigValueType.OBJECT) {
      return "; known sections: " + new TreeSet<>(defaults.root().keySet());
    }
    return "; known keys of '" + section + "': "
        + new TreeSet<>(defaults.getConfig(section).root().keySet());
  }

  private static TrainSettings readTrain(ConfigReader r) {
    int batchSize = r.intAtLeast("train.batch_size", 1);
    int seqLen = r.intAtLeast("train.seq_len", 1);
    if ((long) batchSize * (seqLen + 1) > Integer.MAX_VALUE) {
      throw r.invalid("train.batch_size", "times train.seq_len + 1 must fit in an int");
    }
    double lr = r.positive("train.lr");
    double minLr = r.number("train.min_lr", 0, lr, false);
    int maxSteps = r.intAtLeast("train.max_steps", 1);
    int warmupSteps = r.intAtLeast("train.warmup_steps", 0);
    if (warmupSteps > maxSteps) {
      throw r.invalid("train.warmup_steps", "must be <= train.max_steps = " + maxSteps);
    }
    return new TrainSettings(
        batchSize,
        seqLen,
        r.intAtLeast("train.grad_accum", 1),
        lr,
        minLr,
        warmupSteps,
        maxSteps,
        r.number("train.max_minutes", 0, Double.MAX_VALUE, false),
        r.number("train.weight_decay", 0, Double.MAX_VALUE, false),
        r.number("train.beta1", 0, 1, true),
        r.number("train.beta2", 0, 1, true),
        r.positive("train.eps"),
        r.number("train.grad_clip", 0, Double.MAX_VALUE, false),
        r.anyLong("train.seed"),
        r.bool("train.doc_masking"),
        r.bool("train.activation_checkpointing"),
        r.intAtLeast("train.eval_every", 1),
        r.intAtLeast("train.eval_batches", 1),
        r.intAtLeast("train.checkpoint_every", 1),
        r.intAtLeast("train.keep_checkpoints", 1),
        r.intAtLeast("train.log_every", 1));
  }

  private static ExchangeSettings readExchange(ConfigReader r) {
    String kind = r.oneOf("exchange.kind", EXCHANGE_KINDS);
    String wire = r.oneOf("exchange.wire", WIRES);
    int port = r.intAtLeast("exchange.port", 0);
    if (port > 65535) {
      throw r.invalid("exchange.port", "must be <= 65535 (0 = any free port)");
    }
    return new ExchangeSettings(ExchangeSpec.Kind.parse(kind),
        r.bytes("exchange.bucket_size", 4, ExchangeSpec.MAX_BUCKET_BYTES, 4),
        WireDType.valueOf(wire.toUpperCase(Locale.ROOT)), r.millis("exchange.timeout"), port);
  }

  /**
   * A local path, or a {@code file:} URI taken as its path, is used as it is. Any other scheme is a
   * Hadoop FileSystem URI, which the pretrain job mirrors to a local staging folder per task; it
   * must be absolute (name a folder, not a bucket or a relative path). Whether a FileSystem for the
   * scheme exists, and whether it can be reached and written, is found out at first use, on the
   * driver before any task starts, where the Hadoop configuration is known.
   */
  private static String runDir(ConfigReader r) {
    String dir = r.nonBlank("run.dir").trim();
    Matcher scheme = RunSettings.URI_SCHEME.matcher(dir);
    if (!scheme.find()) {
      return dir;
    }
    URI uri;
    try {
      uri = new URI(dir);
    } catch (URISyntaxException e) {
      throw r.invalid("run.dir", "is not a valid URI (" + e.getMessage() + ")");
    }
    if (scheme.group(1).equalsIgnoreCase("file")) {
      try {
        return Path.of(uri).toString();
      } catch (IllegalArgumentException e) {
        throw r.invalid("run.dir", "is not a valid file: URI (" + e.getMessage() + ")");
      }
    }
    if (uri.getPath() == null || uri.getPath().isEmpty() || uri.getPath().equals("/")) {
      throw r.invalid("run.dir", "must name a folder of the file system, such as "
          + "hdfs://namenode/runs/a or s3a://bucket/runs/a");
    }
    return dir;
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    config = ConfigFactory.parseString(json).resolve();
  }
}
