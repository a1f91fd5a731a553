package io.mobaspark.data.tokenizer;

/**
 * GPT-2-style byte-level BPE without regex or per-piece objects: {@link Gpt2PreTokenizer} cuts the
 * text into pieces, {@link PieceEncoder} byte-pair encodes each over {@link BpeRanks}. Produces the
 * same ids as jtokkit's {@code encodeOrdinary} for the encodings that use GPT-2's split pattern
 * (r50k_base); the tests compare the two on corpora, tricky and random text. Thread-safe: each
 * thread encodes with its own buffers.
 */
final class Gpt2BpeEncoder {
  private final ThreadLocal<PieceEncoder> pieces;

  Gpt2BpeEncoder(BpeRanks ranks) {
    this.pieces = ThreadLocal.withInitial(() -> new PieceEncoder(ranks));
  }

  /** The ids of {@code text}; special-token text is encoded as ordinary characters. */
  int[] encode(String text) {
    PieceEncoder encoder = pieces.get();
    encoder.clear();
    for (int start = 0; start < text.length(); ) {
      int end = Gpt2PreTokenizer.pieceEnd(text, start);
      encoder.append(text, start, end);
      start = end;
    }
    return encoder.ids();
  }
}
