package io.mobaspark.data.tokenizer;

/**
 * Text to token ids and back. Implementations are immutable and safe to share between threads,
 * because one instance serves every task of a Spark executor.
 */
public interface Tokenizer {

  /** The name that {@link Tokenizers#byName} accepts and that manifests record. */
  String name();

  /** One more than the highest token id this tokenizer can produce, the end-of-text id included. */
  int vocabSize();

  /** The end-of-text id that separates documents in a shard. */
  int eotId();

  /**
   * The ids of {@code text}. Special-token text such as {@code "<|endoftext|>"} is encoded as the
   * ordinary characters it consists of, never as the special id, so that a document cannot forge a
   * document boundary and encoding never fails on web text that happens to contain one.
   */
  int[] encode(String text);

  /**
   * The text of {@code ids}. The end-of-text id decodes to {@code "<|endoftext|>"}; byte sequences
   * that are not valid UTF-8 (a window cut inside a character) decode to U+FFFD.
   *
   * @throws IllegalArgumentException naming the id and its position when an id is outside
   *     {@code [0, vocabSize())}
   */
  String decode(int[] ids);
}
