package io.mobaspark.data.tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;

/**
 * A tiktoken vocabulary as hash tables of primitives: every token's bytes, its rank (= its id;
 * lower ranks merge first), and the rank of joining two tokens. Read from the {@code .tiktoken}
 * file inside jtokkit's jar (one "base64 rank" line per token), so the vocabulary is the one
 * jtokkit encodes with.
 *
 * <p>Byte-pair encoding only ever joins two adjacent parts that are both tokens, into the token
 * whose bytes are their concatenation if there is one. So instead of hashing the joined bytes at
 * each step, {@link #mergedRank} looks the pair of ranks up in a table built once from every way of
 * cutting every token into two tokens.
 */
final class BpeRanks {
  /** Returned by the lookups when there is no such token: higher than every rank. */
  static final int NONE = Integer.MAX_VALUE;
  private static final int SHORT_BYTES = 7;
  private static final long RANK_MASK = (1L << 21) - 1;

  private final int[] byteRank = new int[256];
  private final byte[] tokenBytes; // the tokens' bytes back to back, in rank order
  // [size + 1]: token r is tokenBytes[tokenStart[r], tokenStart[r + 1])
  private final int[] tokenStart;
  // Tokens of up to 7 bytes (most of them, and most pieces of text), open addressing: slot 2i the
  // bytes packed with their length (never 0, which marks an empty slot), slot 2i + 1 the rank;
  // key and rank share a cache line, and a probe compares one long instead of a byte range.
  private final long[] shortTokens;
  private final int shortShift; // 64 - log2(slots)
  private final int[] longTokens; // longer tokens, open addressing by the bytes' hash: rank + 1
  // The joins, open addressing by (left, right): each slot (left + 1) << 42 | right << 21 | rank,
  // so that a probe is one load; 0 = empty.
  private final long[] joins;
  private final int joinShift; // 64 - log2(joins.length)

  private BpeRanks(byte[][] tokens) {
    int size = tokens.length;
    if (size > RANK_MASK) {
      throw new IllegalStateException(size + " tokens: the join table packs ranks in 21 bits");
    }
    tokenStart = new int[size + 1];
    int shortCount = 0;
    for (int r = 0; r < size; r++) {
      tokenStart[r + 1] = tokenStart[r] + tokens[r].length;
      shortCount += tokens[r].length <= SHORT_BYTES ? 1 : 0;
    }
    tokenBytes = new byte[tokenStart[size]];
    Arrays.fill(byteRank, NONE);
    shortTokens = new long[2 * tableSize(shortCount)];
    shortShift = 64 - Integer.numberOfTrailingZeros(shortTokens.length / 2);
    longTokens = new int[tableSize(size - shortCount)];
    for (int r = 0; r < size; r++) {
      byte[] t = tokens[r];
      System.arraycopy(t, 0, tokenBytes, tokenStart[r], t.length);
      if (t.length == 1) {
        byteRank[t[0] & 0xFF] = r;
      }
      if (t.length <= SHORT_BYTES) {
        long key = packShort(t, 0, t.length);
        int slot = shortSlot(key);
        while (shortTokens[2 * slot] != 0) {
          slot = (slot + 1) & (shortTokens.length / 2 - 1);
        }
        shortTokens[2 * slot] = key;
        shortTokens[2 * slot + 1] = r;
      } else {
        int slot = hash(t, 0, t.length) & (longTokens.length - 1);
        while (longTokens[slot] != 0) {
          slot = (slot + 1) & (longTokens.length - 1);
        }
        longTokens[slot] = r + 1;
      }
    }
    for (int b = 0; b < 256; b++) {
      if (byteRank[b] == NONE) {
        throw new IllegalStateException("byte-level BPE vocabulary lacks the token of byte " + b);
      }
    }

    // Every cut of every token into two tokens: about 3 per token in r50k_base.
    long[] entries = new long[size * 4];
    int count = 0;
    for (int r = 0; r < size; r++) {
      byte[] t = tokens[r];
      for (int cut = 1; cut < t.length; cut++) {
        int left = rank(t, 0, cut);
        int right = left == NONE ? NONE : rank(t, cut, t.length);
        if (right != NONE) {
          if (count == entries.length) {
            entries = Arrays.copyOf(entries, count * 2);
          }
          entries[count++] = joinKey(left, right) | r;
        }
      }
    }
    joins = new long[tableSize(count)];
    joinShift = 64 - Integer.numberOfTrailingZeros(joins.length);
    for (int e = 0; e < count; e++) {
      int slot = joinSlot(entries[e] & ~RANK_MASK);
      while (joins[slot] != 0) {
        slot = (slot + 1) & (joins.length - 1);
      }
      joins[slot] = entries[e];
    }
  }

  /** Loads {@code resource} (a class-path resource in tiktoken format: "base64 rank" lines). */
  static BpeRanks load(String resource) {
    try (InputStream in = BpeRanks.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("BPE vocabulary " + resource + " is not on the class path");
      }
      BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      byte[][] tokens = new byte[1 << 16][];
      int size = 0;
      Base64.Decoder base64 = Base64.getDecoder();
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        if (line.isEmpty()) {
          continue;
        }
        int space = line.indexOf(' ');
        int rank = Integer.parseInt(line, space + 1, line.length(), 10);
        if (rank != size) {
          // The tables index tokens by rank, so ranks must be 0, 1, 2, ... in file order.
          throw new IllegalStateException(resource + ": rank " + rank + " where " + size
              + " was expected");
        }
        if (size == tokens.length) {
          tokens = Arrays.copyOf(tokens, size * 2);
        }
        tokens[size++] = base64.decode(line.substring(0, space));
      }
      return new BpeRanks(Arrays.copyOf(tokens, size));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read BPE vocabulary " + resource, e);
    }
  }

  /** The number of tokens (ranks 0 .. size - 1). */
  int size() {
    return tokenStart.length - 1;
  }

  /** The rank of the one-byte token of {@code b}. */
  int byteRank(byte b) {
    return byteRank[b & 0xFF];
  }

  /** The rank of the token whose bytes are {@code bytes[from, to)}, or {@link #NONE}. */
  int rank(byte[] bytes, int from, int to) {
    int length = to - from;
    if (length <= SHORT_BYTES) {
      long key = packShort(bytes, from, to);
      int mask = shortTokens.length / 2 - 1;
      for (int slot = shortSlot(key); shortTokens[2 * slot] != 0; slot = (slot + 1) & mask) {
        if (shortTokens[2 * slot] == key) {
          return (int) shortTokens[2 * slot + 1];
        }
      }
      return NONE;
    }
    int slot = hash(bytes, from, to) & (longTokens.length - 1);
    for (int entry = longTokens[slot]; entry != 0; entry = longTokens[slot]) {
      int start = tokenStart[entry - 1];
      if (tokenStart[entry] - start == length
          && Arrays.equals(tokenBytes, start, start + length, bytes, from, to)) {
        return entry - 1;
      }
      slot = (slot + 1) & (longTokens.length - 1);
    }
    return NONE;
  }

  /** The rank of the token that joins token {@code left} and then token {@code right}, or NONE. */
  int mergedRank(int left, int right) {
    long key = joinKey(left, right);
    for (int slot = joinSlot(key); joins[slot] != 0; slot = (slot + 1) & (joins.length - 1)) {
      if ((joins[slot] & ~RANK_MASK) == key) {
        return (int) (joins[slot] & RANK_MASK);
      }
    }
    return NONE;
  }

  /** Up to 7 bytes little-endian, the length in the top byte: distinct strings, distinct keys. */
  private static long packShort(byte[] bytes, int from, int to) {
    long key = (long) (to - from) << 56;
    for (int i = from; i < to; i++) {
      key |= (bytes[i] & 0xFFL) << (8 * (i - from));
    }
    return key;
  }

  // + 1 keeps every entry non-zero, so that 0 can mark an empty slot.
  private static long joinKey(int left, int right) {
    return (left + 1L) << 42 | (long) right << 21;
  }

  // Fibonacci hashing: the top bits of key * 2^64/phi spread nearby keys over the table.
  private int shortSlot(long key) {
    return (int) ((key * 0x9E3779B97F4A7C15L) >>> shortShift);
  }

  private int joinSlot(long key) {
    return (int) ((key * 0x9E3779B97F4A7C15L) >>> joinShift);
  }

  /** A hash of {@code bytes[from, to)} whose low bits are as good as its high ones. */
  static int hash(byte[] bytes, int from, int to) {
    int h = 0;
    for (int i = from; i < to; i++) {
      h = 31 * h + bytes[i];
    }
    // Murmur3's finalizer: the table takes the low bits, so every bit of h must reach them.
    h = (h ^ (h >>> 16)) * 0x85EBCA6B;
    h = (h ^ (h >>> 13)) * 0xC2B2AE35;
    return h ^ (h >>> 16);
  }

  /** A power of two at least twice {@code entries}: probe runs stay short at load <= 1/2. */
  private static int tableSize(int entries) {
    return Integer.highestOneBit(Math.max(2, entries) * 2 - 1) * 2;
  }
}
