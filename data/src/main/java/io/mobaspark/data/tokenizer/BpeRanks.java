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
 * A tiktoken vocabulary as flat int tables: every token's bytes, its rank (= its id; lower ranks
 * merge first), and the rank of joining two tokens. Read from the {@code .tiktoken} file inside
 * jtokkit's jar (one "base64 rank" line per token), so the vocabulary is the one jtokkit encodes
 * with.
 *
 * <p>Byte-pair encoding only ever joins two adjacent parts that are both tokens, into the token
 * whose bytes are their concatenation if there is one. So instead of hashing the joined bytes at
 * each step, {@link #mergedRank} looks the pair of ranks up in a table built once from every way of
 * cutting every token into two tokens.
 */
final class BpeRanks {
  /** Returned by the lookups when there is no such token: higher than every rank. */
  static final int NONE = Integer.MAX_VALUE;

  private final int[] byteRank = new int[256];
  private final byte[] tokenBytes; // the tokens' bytes back to back, in rank order
  private final int[] tokenStart; // [size + 1]: token r is tokenBytes[tokenStart[r], tokenStart[r + 1])
  private final int[] tokenTable; // open addressing by the bytes' hash: rank + 1, 0 = empty
  private final long[] pairKeys; // open addressing by (left rank, right rank); 0 = empty
  private final int[] pairRanks;
  private final int pairShift; // 64 - log2(pairKeys.length)

  private BpeRanks(byte[][] tokens) {
    int size = tokens.length;
    tokenStart = new int[size + 1];
    for (int r = 0; r < size; r++) {
      tokenStart[r + 1] = tokenStart[r] + tokens[r].length;
    }
    tokenBytes = new byte[tokenStart[size]];
    Arrays.fill(byteRank, NONE);
    tokenTable = new int[tableSize(size)];
    for (int r = 0; r < size; r++) {
      System.arraycopy(tokens[r], 0, tokenBytes, tokenStart[r], tokens[r].length);
      if (tokens[r].length == 1) {
        byteRank[tokens[r][0] & 0xFF] = r;
      }
      int slot = hash(tokens[r], 0, tokens[r].length) & (tokenTable.length - 1);
      while (tokenTable[slot] != 0) {
        slot = (slot + 1) & (tokenTable.length - 1);
      }
      tokenTable[slot] = r + 1;
    }
    for (int b = 0; b < 256; b++) {
      if (byteRank[b] == NONE) {
        throw new IllegalStateException("byte-level BPE vocabulary lacks the token of byte " + b);
      }
    }

    // Every cut of every token into two tokens: about 3 per token in r50k_base.
    long[] keys = new long[size * 4];
    int[] ranks = new int[size * 4];
    int pairs = 0;
    for (int r = 0; r < size; r++) {
      byte[] t = tokens[r];
      for (int cut = 1; cut < t.length; cut++) {
        int left = rank(t, 0, cut);
        int right = left == NONE ? NONE : rank(t, cut, t.length);
        if (right != NONE) {
          if (pairs == keys.length) {
            keys = Arrays.copyOf(keys, pairs * 2);
            ranks = Arrays.copyOf(ranks, pairs * 2);
          }
          keys[pairs] = pairKey(left, right);
          ranks[pairs++] = r;
        }
      }
    }
    pairKeys = new long[tableSize(pairs)];
    pairRanks = new int[pairKeys.length];
    pairShift = 64 - Integer.numberOfTrailingZeros(pairKeys.length);
    for (int p = 0; p < pairs; p++) {
      int slot = pairSlot(keys[p]);
      while (pairKeys[slot] != 0) {
        slot = (slot + 1) & (pairKeys.length - 1);
      }
      pairKeys[slot] = keys[p];
      pairRanks[slot] = ranks[p];
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
    int slot = hash(bytes, from, to) & (tokenTable.length - 1);
    for (int entry = tokenTable[slot]; entry != 0; entry = tokenTable[slot]) {
      int start = tokenStart[entry - 1];
      if (tokenStart[entry] - start == length
          && Arrays.equals(tokenBytes, start, start + length, bytes, from, to)) {
        return entry - 1;
      }
      slot = (slot + 1) & (tokenTable.length - 1);
    }
    return NONE;
  }

  /** The rank of the token that joins token {@code left} and then token {@code right}, or NONE. */
  int mergedRank(int left, int right) {
    long key = pairKey(left, right);
    int slot = pairSlot(key);
    for (long k = pairKeys[slot]; k != 0; k = pairKeys[slot]) {
      if (k == key) {
        return pairRanks[slot];
      }
      slot = (slot + 1) & (pairKeys.length - 1);
    }
    return NONE;
  }

  // + 1 keeps every key non-zero, so that 0 can mark an empty slot.
  private static long pairKey(int left, int right) {
    return ((long) left << 32 | right) + 1;
  }

  private int pairSlot(long key) {
    // Fibonacci hashing: the top bits of key * 2^64/phi spread consecutive ranks over the table.
    return (int) ((key * 0x9E3779B97F4A7C15L) >>> pairShift);
  }

  private static int hash(byte[] bytes, int from, int to) {
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
