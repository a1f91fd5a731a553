package io.mobaspark.data.tokenizer;

import java.util.Arrays;

/**
 * Byte-pair encodes one text's pieces into ids, appending; one instance per thread, because it
 * keeps its buffers between pieces and texts so that encoding allocates only the returned array.
 *
 * <p>A piece is encoded as tiktoken and jtokkit do: its UTF-8 bytes as one token if the vocabulary
 * has them; otherwise start from one part per byte and repeatedly join the two adjacent parts whose
 * joined token has the lowest rank, the leftmost of equals, until no adjacent pair joins into a
 * token. Short pieces keep their parts in arrays and scan for the minimum; long ones (a run of
 * thousands of spaces or digits) use a linked list and a heap, so that they cost n log n, not n^2.
 */
final class PieceEncoder {
  /** Up to this many bytes the quadratic scan beats the heap's bookkeeping. */
  static final int SHORT_PIECE_BYTES = 64;
  /**
   * Slots of the cache of merged pieces, direct-mapped by the bytes' hash. One piece in twenty
   * needs merging (the npm corpus: 255k of 4.9M), but those few cost most of the lookups, and the
   * same ones recur: the 4,096 most frequent of its 56k distinct merged pieces make up half of
   * their occurrences.
   */
  static final int CACHE_SLOTS = 1 << 13;

  private final BpeRanks ranks;
  private byte[] bytes = new byte[256]; // the piece's UTF-8
  private int[] ids = new int[1024]; // the text's ids so far
  private int count;
  private int[] parts = new int[256]; // [piece bytes]: rank of each part
  private int[] joins = new int[256]; // [piece bytes]: rank of part i joined with the next, or NONE
  private int[] next = new int[0]; // long pieces: linked list of parts by their first byte
  private int[] previous = new int[0];
  private long[] heap = new long[0]; // long pieces: (join rank << 32 | part) candidates, min first
  private int heapSize;
  private final byte[][] cachedPieces = new byte[CACHE_SLOTS][]; // a merged piece's UTF-8, or null
  private final int[][] cachedIds = new int[CACHE_SLOTS][]; // [slot]: the ids of cachedPieces[slot]

  PieceEncoder(BpeRanks ranks) {
    this.ranks = ranks;
  }

  /** Starts a new text. */
  void clear() {
    count = 0;
  }

  /** The ids of the text so far, in a new array. */
  int[] ids() {
    return Arrays.copyOf(ids, count);
  }

  /** Appends the ids of the piece {@code text[from, to)}. */
  void append(String text, int from, int to) {
    int n = utf8(text, from, to);
    if (n == 1) {
      add(ranks.byteRank(bytes[0]));
      return;
    }
    int whole = ranks.rank(bytes, 0, n);
    if (whole != BpeRanks.NONE) {
      add(whole);
      return;
    }
    int slot = BpeRanks.hash(bytes, 0, n) & (CACHE_SLOTS - 1);
    byte[] cached = cachedPieces[slot];
    if (cached != null && Arrays.equals(cached, 0, cached.length, bytes, 0, n)) {
      for (int id : cachedIds[slot]) {
        add(id);
      }
      return;
    }
    int first = count;
    if (n <= SHORT_PIECE_BYTES) {
      mergeShort(n);
    } else {
      mergeLong(n);
    }
    cachedPieces[slot] = Arrays.copyOf(bytes, n);
    cachedIds[slot] = Arrays.copyOfRange(ids, first, count);
  }

  /**
   * Writes the UTF-8 of {@code text[from, to)} to {@code bytes} and returns its length. A lone
   * surrogate becomes '?', as in {@code String.getBytes(UTF_8)}, which jtokkit applies to each
   * piece.
   */
  private int utf8(String text, int from, int to) {
    if (bytes.length < 3 * (to - from)) {
      bytes = new byte[3 * (to - from)];
    }
    byte[] b = bytes;
    int n = 0;
    for (int i = from; i < to; i++) {
      char c = text.charAt(i);
      if (c < 0x80) {
        b[n++] = (byte) c;
      } else if (c < 0x800) {
        b[n++] = (byte) (0xC0 | c >> 6);
        b[n++] = (byte) (0x80 | c & 0x3F);
      } else if (!Character.isSurrogate(c)) {
        b[n++] = (byte) (0xE0 | c >> 12);
        b[n++] = (byte) (0x80 | c >> 6 & 0x3F);
        b[n++] = (byte) (0x80 | c & 0x3F);
      } else if (Character.isHighSurrogate(c) && i + 1 < to
          && Character.isLowSurrogate(text.charAt(i + 1))) {
        int codePoint = Character.toCodePoint(c, text.charAt(++i));
        b[n++] = (byte) (0xF0 | codePoint >> 18);
        b[n++] = (byte) (0x80 | codePoint >> 12 & 0x3F);
        b[n++] = (byte) (0x80 | codePoint >> 6 & 0x3F);
        b[n++] = (byte) (0x80 | codePoint & 0x3F);
      } else {
        b[n++] = '?';
      }
    }
    return n;
  }

  /** The merges over arrays: m parts, joins[i] the rank of joining parts i and i + 1. */
  private void mergeShort(int n) {
    int[] part = parts;
    int[] join = joins;
    for (int i = 0; i < n; i++) {
      part[i] = ranks.byteRank(bytes[i]);
    }
    for (int i = 0; i + 1 < n; i++) {
      join[i] = ranks.mergedRank(part[i], part[i + 1]);
    }
    int m = n;
    while (m > 1) {
      int best = 0;
      for (int i = 1; i + 1 < m; i++) {
        if (join[i] < join[best]) {
          best = i;
        }
      }
      if (join[best] == BpeRanks.NONE) {
        break;
      }
      // Part best becomes the joined token; part best + 1 and its join go.
      part[best] = join[best];
      System.arraycopy(part, best + 2, part, best + 1, m - best - 2);
      if (best + 2 < m - 1) {
        System.arraycopy(join, best + 2, join, best + 1, m - best - 3);
      }
      m--;
      if (best + 1 < m) {
        join[best] = ranks.mergedRank(part[best], part[best + 1]);
      }
      if (best > 0) {
        join[best - 1] = ranks.mergedRank(part[best - 1], part[best]);
      }
    }
    for (int i = 0; i < m; i++) {
      add(part[i]);
    }
  }

  /**
   * The merges over a linked list of parts, each known by the index of its first byte (so
   * "leftmost" is "smallest index"), with a min-heap of (rank, index) candidates. A candidate is
   * stale when its part is gone or the part now joins into another rank: joining a part with its
   * next always yields the token of the bytes from the part's first byte to the next's last, so an
   * equal rank means the same bytes and the same join.
   */
  private void mergeLong(int n) {
    if (next.length < n) {
      next = new int[n];
      previous = new int[n];
      parts = new int[n];
      joins = new int[n];
      // n - 1 first candidates and at most two per join, of which there are at most n - 1.
      heap = new long[3 * n];
    }
    int[] part = parts;
    int[] join = joins;
    heapSize = 0;
    for (int i = 0; i < n; i++) {
      part[i] = ranks.byteRank(bytes[i]);
      next[i] = i + 1;
      previous[i] = i - 1;
    }
    for (int i = 0; i < n; i++) {
      join[i] = i + 1 < n ? ranks.mergedRank(part[i], part[i + 1]) : BpeRanks.NONE;
      push(join[i], i);
    }
    while (heapSize > 0) {
      long top = pop();
      int rank = (int) (top >>> 32);
      int p = (int) top;
      if (part[p] < 0 || join[p] != rank) {
        continue;
      }
      int gone = next[p];
      part[p] = rank;
      part[gone] = -1;
      next[p] = next[gone];
      if (next[p] < n) {
        previous[next[p]] = p;
        join[p] = ranks.mergedRank(rank, part[next[p]]);
        push(join[p], p);
      } else {
        join[p] = BpeRanks.NONE;
      }
      int before = previous[p];
      if (before >= 0) {
        join[before] = ranks.mergedRank(part[before], rank);
        push(join[before], before);
      }
    }
    for (int p = 0; p < n; p = next[p]) {
      add(part[p]);
    }
  }

  private void push(int rank, int part) {
    if (rank == BpeRanks.NONE) {
      return;
    }
    long key = (long) rank << 32 | part;
    int i = heapSize++;
    while (i > 0 && heap[(i - 1) >>> 1] > key) {
      heap[i] = heap[(i - 1) >>> 1];
      i = (i - 1) >>> 1;
    }
    heap[i] = key;
  }

  private long pop() {
    long top = heap[0];
    long last = heap[--heapSize];
    int i = 0;
    while (true) {
      int child = 2 * i + 1;
      if (child >= heapSize) {
        break;
      }
      if (child + 1 < heapSize && heap[child + 1] < heap[child]) {
        child++;
      }
      if (heap[child] >= last) {
        break;
      }
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return top;
  }

  private void add(int id) {
    if (count == ids.length) {
      ids = Arrays.copyOf(ids, count * 2);
    }
    ids[count++] = id;
  }
}
