package io.mobaspark.trainer.model;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.cuda.CudaSupport;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The shape of the transformer ({@code docs/model.md}), read from the {@code model} section of the
 * HOCON configuration. Every key is named in snake_case as in the file; the defaults live in
 * {@code model-defaults.conf} on the classpath.
 *
 * <p>The attention pattern repeats over the layers, as the hybrids of MoBA (arXiv 2502.13189) and
 * FlashMoBA (arXiv 2511.11571): {@code "swa,moba"} makes layer 0 sliding-window, layer 1 MoBA, layer 2
 * sliding-window, and so on. RoPE applies to the kinds listed in {@code rope} (the papers: sliding
 * window and dense layers, no positional encoding on MoBA layers); kconv applies to MoBA layers' keys.
 *
 * @param vocabSize     V, token ids are {@code [0, V)}
 * @param dModel        C, residual stream width
 * @param layers        L, transformer blocks
 * @param heads         H, query heads
 * @param kvHeads       Hkv, key/value heads (GQA; H must be a multiple)
 * @param headDim       D; the projections map C to H*D, which may differ from C
 * @param ffn           F, SwiGLU hidden width
 * @param attention     the attention kind of each layer of the repeating pattern
 * @param window        sliding window length (keys {@code pos - window < key <= pos})
 * @param blockSize     MoBA key block size B
 * @param topk          MoBA blocks per query, counting the query's own block
 * @param kconv         key convolution width on MoBA layers: 0 (off), 3 or 5
 * @param rope          the attention kinds whose q and k get rotary embeddings
 * @param ropeTheta     RoPE base
 * @param normEps       RMSNorm epsilon (inside the square root)
 * @param tieEmbeddings whether the LM head reuses the token embedding
 * @param initStd       standard deviation of the normal init of matrices and embeddings
 */
public record ModelConfig(
    int vocabSize,
    int dModel,
    int layers,
    int heads,
    int kvHeads,
    int headDim,
    int ffn,
    List<AttentionKind> attention,
    int window,
    int blockSize,
    int topk,
    int kconv,
    Set<AttentionKind> rope,
    double ropeTheta,
    double normEps,
    boolean tieEmbeddings,
    double initStd) {

  /** The prefix of every key in error messages: the section this record is read from. */
  public static final String SECTION = "model";

  /** The keys of the {@code model} section, in the order of the defaults file. */
  public static final List<String> KEYS = List.of(
      "vocab_size", "d_model", "layers", "heads", "kv_heads", "head_dim", "ffn", "attention",
      "window", "block_size", "topk", "kconv", "rope", "rope_theta", "norm_eps", "tie_embeddings",
      "init_std");

  private static final String DEFAULTS_RESOURCE = "model-defaults.conf";

  public ModelConfig {
    requirePositive("vocab_size", vocabSize);
    requirePositive("d_model", dModel);
    requirePositive("layers", layers);
    requirePositive("heads", heads);
    requirePositive("kv_heads", kvHeads);
    requirePositive("head_dim", headDim);
    requirePositive("ffn", ffn);
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(key("heads") + " (" + heads + ") must be a multiple of "
          + key("kv_heads") + " (" + kvHeads + ")");
    }
    if (attention == null || attention.isEmpty() || hasNull(attention)) {
      throw new IllegalArgumentException(key("attention") + " must list at least one attention kind");
    }
    if (attention.size() > layers) {
      throw new IllegalArgumentException(key("attention") + " has " + attention.size()
          + " entries but " + key("layers") + " is " + layers + "; the pattern would not fit");
    }
    attention = List.copyOf(attention);
    requirePositive("window", window);
    requirePositive("block_size", blockSize);
    requirePositive("topk", topk);
    if (kconv != 0 && kconv != 3 && kconv != 5) {
      throw new IllegalArgumentException(key("kconv") + " must be 0, 3 or 5, got " + kconv);
    }
    if (rope == null || hasNull(rope)) {
      throw new IllegalArgumentException(key("rope") + " must be a set of attention kinds");
    }
    rope = rope.isEmpty()
        ? Collections.unmodifiableSet(EnumSet.noneOf(AttentionKind.class))
        : Collections.unmodifiableSet(EnumSet.copyOf(rope));
    if (headDim % 2 != 0 && attention.stream().anyMatch(rope::contains)) {
      throw new IllegalArgumentException(key("head_dim") + " must be even for RoPE, got " + headDim);
    }
    requirePositive("rope_theta", ropeTheta);
    requirePositive("norm_eps", normEps);
    requirePositive("init_std", initStd);
  }

  // ---- reading ----------------------------------------------------------------------------------

  /** The defaults of {@code model-defaults.conf}: a tiny hybrid model. */
  public static ModelConfig defaults() {
    return fromConfig(ConfigFactory.empty());
  }

  /**
   * Reads the {@code model} section (the object itself, not its parent). Keys it lacks come from
   * {@code model-defaults.conf}; a key that is not a model key is an error, so that a typo in an
   * experiment file cannot silently train the default.
   *
   * @throws IllegalArgumentException naming the key ({@code model.block_size}) and the bad value
   */
  public static ModelConfig fromConfig(Config modelSection) {
    if (modelSection == null) {
      throw new IllegalArgumentException("the " + SECTION + " config section must be given");
    }
    for (String name : modelSection.root().keySet()) {
      if (!KEYS.contains(name)) {
        throw new IllegalArgumentException("unknown key " + key(name) + " (known keys: "
            + String.join(", ", KEYS) + ")");
      }
    }
    Config c = modelSection.withFallback(defaultSection()).resolve();
    return new ModelConfig(
        readInt(c, "vocab_size"),
        readInt(c, "d_model"),
        readInt(c, "layers"),
        readInt(c, "heads"),
        readInt(c, "kv_heads"),
        readInt(c, "head_dim"),
        readInt(c, "ffn"),
        parseKinds("attention", readString(c, "attention"), false),
        readInt(c, "window"),
        readInt(c, "block_size"),
        readInt(c, "topk"),
        readInt(c, "kconv"),
        Set.copyOf(parseKindsOrNone("rope", readString(c, "rope"))),
        readDouble(c, "rope_theta"),
        readDouble(c, "norm_eps"),
        readBoolean(c, "tie_embeddings"),
        readDouble(c, "init_std"));
  }

  private static Config defaultSection() {
    Config file = ConfigFactory.parseResources(ModelConfig.class.getClassLoader(), DEFAULTS_RESOURCE);
    if (!file.hasPath(SECTION)) {
      throw new IllegalStateException(
          "classpath resource " + DEFAULTS_RESOURCE + " is missing or has no " + SECTION + " section");
    }
    return file.getConfig(SECTION);
  }

  // ---- per layer --------------------------------------------------------------------------------

  /** The attention kind of {@code layer}: the pattern repeated over the layers. */
  public AttentionKind attentionKind(int layer) {
    requireLayer(layer);
    return attention.get(layer % attention.size());
  }

  /** The kernel-level shape of {@code layer}'s attention. */
  public AttentionConfig attentionConfig(int layer) {
    return switch (attentionKind(layer)) {
      case DENSE -> AttentionConfig.dense(heads, kvHeads, headDim);
      case SLIDING -> AttentionConfig.sliding(heads, kvHeads, headDim, window);
      case MOBA -> AttentionConfig.moba(heads, kvHeads, headDim, blockSize, topk);
    };
  }

  /**
   * Why the CUDA backend cannot run this model (its first layer whose attention the CUDA kernels
   * refuse), or empty when it can; {@code run.backend = auto} then takes the CPU.
   */
  public Optional<String> cudaProblem() {
    for (int l = 0; l < layers; l++) {
      Optional<String> problem = CudaSupport.attentionProblem(attentionConfig(l));
      if (problem.isPresent()) {
        return Optional.of("layer " + l + " (" + attentionKind(l).name().toLowerCase(Locale.ROOT)
            + "): " + problem.get());
      }
    }
    return Optional.empty();
  }

  public boolean usesRope(int layer) {
    return rope.contains(attentionKind(layer));
  }

  /** Whether {@code layer} convolves its keys (MoBA layers when {@code kconv > 0}). */
  public boolean usesKeyConv(int layer) {
    return kconv > 0 && attentionKind(layer) == AttentionKind.MOBA;
  }

  /** H*D: width of the query projection and of the attention output. */
  public int queryDim() {
    return heads * headDim;
  }

  /** Hkv*D: width of the key and value projections. */
  public int keyValueDim() {
    return kvHeads * headDim;
  }

  /** Number of trainable scalars, the sum of the sizes of the model's parameters. */
  public long parameterCount() {
    long c = dModel;
    long perLayer = 2 * c // attn_norm, mlp_norm
        + 2 * c * queryDim() // wq, wo
        + 2 * c * keyValueDim() // wk, wv
        + 3 * c * ffn; // w_gate, w_up, w_down
    long total = (long) vocabSize * c + layers * perLayer + c;
    for (int layer = 0; layer < layers; layer++) {
      if (usesKeyConv(layer)) {
        total += (long) kvHeads * kconv * headDim;
      }
    }
    if (!tieEmbeddings) {
      total += (long) vocabSize * c;
    }
    return total;
  }

  /**
   * Every key with its value as HOCON would write it, in {@link #KEYS} order: for logs and for the
   * metadata of exported files that the PyTorch reference reads.
   */
  public Map<String, String> toMap() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("vocab_size", Integer.toString(vocabSize));
    m.put("d_model", Integer.toString(dModel));
    m.put("layers", Integer.toString(layers));
    m.put("heads", Integer.toString(heads));
    m.put("kv_heads", Integer.toString(kvHeads));
    m.put("head_dim", Integer.toString(headDim));
    m.put("ffn", Integer.toString(ffn));
    m.put("attention", attention.stream().map(ModelConfig::kindName).collect(Collectors.joining(",")));
    m.put("window", Integer.toString(window));
    m.put("block_size", Integer.toString(blockSize));
    m.put("topk", Integer.toString(topk));
    m.put("kconv", Integer.toString(kconv));
    m.put("rope", rope.isEmpty()
        ? "none" : rope.stream().map(ModelConfig::kindName).collect(Collectors.joining(",")));
    m.put("rope_theta", Double.toString(ropeTheta));
    m.put("norm_eps", Double.toString(normEps));
    m.put("tie_embeddings", Boolean.toString(tieEmbeddings));
    m.put("init_std", Double.toString(initStd));
    return m;
  }

  /** The name of a kind as the config spells it ({@code swa} for sliding window). */
  public static String kindName(AttentionKind kind) {
    return kind == AttentionKind.SLIDING ? "swa" : kind.name().toLowerCase(Locale.ROOT);
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private void requireLayer(int layer) {
    if (layer < 0 || layer >= layers) {
      throw new IllegalArgumentException("layer " + layer + " is outside [0, " + layers + ")");
    }
  }

  private static List<AttentionKind> parseKindsOrNone(String name, String text) {
    String trimmed = text.trim();
    if (trimmed.isEmpty() || trimmed.equalsIgnoreCase("none")) {
      return List.of();
    }
    return parseKinds(name, trimmed, true);
  }

  /** A comma list of {@code dense | swa | moba}; with {@code distinct}, repeats are an error. */
  private static List<AttentionKind> parseKinds(String name, String text, boolean distinct) {
    List<AttentionKind> kinds = new ArrayList<>();
    for (String part : text.split(",", -1)) {
      AttentionKind kind;
      try {
        kind = AttentionKind.parse(part);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            key(name) + " = \"" + text + "\": " + e.getMessage(), e);
      }
      if (distinct && kinds.contains(kind)) {
        throw new IllegalArgumentException(
            key(name) + " = \"" + text + "\" lists " + kindName(kind) + " twice");
      }
      kinds.add(kind);
    }
    return kinds;
  }

  private static int readInt(Config c, String name) {
    try {
      return c.getInt(name);
    } catch (ConfigException e) {
      throw invalid(c, name, "an integer", e);
    }
  }

  private static double readDouble(Config c, String name) {
    try {
      return c.getDouble(name);
    } catch (ConfigException e) {
      throw invalid(c, name, "a number", e);
    }
  }

  private static boolean readBoolean(Config c, String name) {
    try {
      return c.getBoolean(name);
    } catch (ConfigException e) {
      throw invalid(c, name, "true or false", e);
    }
  }

  private static String readString(Config c, String name) {
    try {
      return c.getString(name);
    } catch (ConfigException e) {
      throw invalid(c, name, "a string", e);
    }
  }

  private static IllegalArgumentException invalid(Config c, String name, String expected,
      ConfigException cause) {
    String value = c.hasPathOrNull(name) && !c.getIsNull(name)
        ? c.getValue(name).render() : "(missing)";
    return new IllegalArgumentException(
        key(name) + " must be " + expected + ", got " + value, cause);
  }

  /** Immutable collections throw on {@code contains(null)}, so nulls are looked for one by one. */
  private static boolean hasNull(Collection<?> values) {
    for (Object v : values) {
      if (v == null) {
        return true;
      }
    }
    return false;
  }

  private static void requirePositive(String name, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(key(name) + " must be positive, got " + value);
    }
  }

  private static void requirePositive(String name, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(key(name) + " must be positive and finite, got " + value);
    }
  }

  private static String key(String name) {
    return SECTION + "." + name;
  }
}
