package io.mobaspark.data.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingRegistry;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.util.function.Function;

/**
 * The tiktoken byte-pair encodings over jtokkit's vocabularies: r50k_base encodes with our own
 * {@link Gpt2BpeEncoder} (the same ids as jtokkit's {@code encodeOrdinary}, in less time),
 * cl100k_base with jtokkit's; both decode with jtokkit.
 */
final class TiktokenTokenizer implements Tokenizer {
  // Lazy: loading a vocabulary costs ~100 ms and memory, so load only the ones asked for.
  private static final EncodingRegistry REGISTRY = Encodings.newLazyEncodingRegistry();

  private final String name;
  private final Encoding encoding;
  private final int vocabSize;
  private final int eotId;
  private final Function<String, int[]> encodeOrdinary;

  private TiktokenTokenizer(EncodingType type, Encoding encoding, int vocabSize, int eotId,
      Function<String, int[]> encodeOrdinary) {
    this.name = type.getName();
    this.encoding = encoding;
    this.vocabSize = vocabSize;
    this.eotId = eotId;
    this.encodeOrdinary = encodeOrdinary;
  }

  /** Encodes with jtokkit itself. */
  private static TiktokenTokenizer ofJtokkit(EncodingType type, int vocabSize, int eotId) {
    Encoding encoding = REGISTRY.getEncoding(type);
    return new TiktokenTokenizer(type, encoding, vocabSize, eotId,
        text -> encoding.encodeOrdinary(text).toArray());
  }

  /** Encodes with {@link Gpt2BpeEncoder} over the vocabulary file in jtokkit's jar. */
  private static TiktokenTokenizer ofGpt2Split(EncodingType type, int vocabSize, int eotId) {
    Gpt2BpeEncoder own = new Gpt2BpeEncoder(
        BpeRanks.load("/com/knuddels/jtokkit/" + type.getName() + ".tiktoken"));
    return new TiktokenTokenizer(type, REGISTRY.getEncoding(type), vocabSize, eotId, own::encode);
  }

  /** GPT-2: 50,256 merges plus {@code <|endoftext|>} = 50256, the highest id. */
  static TiktokenTokenizer r50kBase() {
    return Holder.R50K;
  }

  /**
   * GPT-3.5/4: ids 0..100255 are merges, 100257..100260 and 100276 ({@code <|endofprompt|>}, the
   * highest id jtokkit knows) are special, so the vocabulary is 100277 ids (embedding rows);
   * {@code <|endoftext|>} = 100257. A test checks these numbers against jtokkit.
   */
  static TiktokenTokenizer cl100kBase() {
    return Holder.CL100K;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public int eotId() {
    return eotId;
  }

  @Override
  public int[] encode(String text) {
    if (text == null) {
      throw new IllegalArgumentException(name + ": text to encode is null");
    }
    return encodeOrdinary.apply(text);
  }

  @Override
  public String decode(int[] ids) {
    if (ids == null) {
      throw new IllegalArgumentException(name + ": ids to decode are null");
    }
    IntArrayList list = new IntArrayList(ids.length);
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= vocabSize) {
        throw new IllegalArgumentException(name + ": ids[" + i + "] = " + ids[i]
            + " is outside the vocabulary [0, " + vocabSize + ")");
      }
      list.add(ids[i]);
    }
    try {
      return encoding.decode(list);
    } catch (NullPointerException e) {
      // jtokkit 1.1.0 reports an id that names no token ("Unknown token for decoding: 100256",
      // cl100k's unused id) with a NullPointerException: turn it into the documented exception.
      throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return name;
  }

  /** Initialization-on-demand: each vocabulary is built once, on first use, thread-safely. */
  private static final class Holder {
    static final TiktokenTokenizer R50K = ofGpt2Split(EncodingType.R50K_BASE, 50257, 50256);
    static final TiktokenTokenizer CL100K = ofJtokkit(EncodingType.CL100K_BASE, 100277, 100257);
  }
}
