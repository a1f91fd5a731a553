package io.mobaspark.kernels;

import java.util.Arrays;

/**
 * How a flat run of {@code T} tokens splits into independent sequences (documents), as FlashAttention's
 * {@code cu_seqlens}: sequence {@code s} covers tokens {@code [cuSeqlens[s], cuSeqlens[s+1])}.
 * Attention, MoBA key blocks, kconv and RoPE positions all restart at each sequence start.
 */
public final class SeqLayout {
  private final int[] cuSeqlens;

  private SeqLayout(int[] cuSeqlens) {
    this.cuSeqlens = cuSeqlens;
  }

  /** Validates {@code cu_seqlens}: starts at 0, strictly increasing (no empty sequence). */
  public static SeqLayout of(int... cuSeqlens) {
    if (cuSeqlens.length < 2 || cuSeqlens[0] != 0) {
      throw new IllegalArgumentException(
          "cu_seqlens must start at 0 and hold at least two entries, got "
              + Arrays.toString(cuSeqlens));
    }
    for (int s = 1; s < cuSeqlens.length; s++) {
      if (cuSeqlens[s] <= cuSeqlens[s - 1]) {
        throw new IllegalArgumentException(
            "cu_seqlens must be strictly increasing (empty sequences are not allowed), got "
                + cuSeqlens[s - 1] + " then " + cuSeqlens[s] + " at index " + s);
      }
    }
    return new SeqLayout(cuSeqlens.clone());
  }

  /** {@code batch} sequences of {@code seqLen} tokens each. */
  public static SeqLayout uniform(int batch, int seqLen) {
    if (batch <= 0 || seqLen <= 0) {
      throw new IllegalArgumentException(
          "batch and seqLen must be positive, got batch=" + batch + " seqLen=" + seqLen);
    }
    int[] cu = new int[batch + 1];
    for (int b = 0; b <= batch; b++) {
      cu[b] = b * seqLen;
    }
    return new SeqLayout(cu);
  }

  /**
   * Splits each of {@code batch} windows of {@code seqLen} tokens after every {@code separator}
   * token, so that packed documents do not attend to each other.
   */
  public static SeqLayout splitAfter(int[] tokens, int batch, int seqLen, int separator) {
    if (tokens.length != batch * seqLen) {
      throw new IllegalArgumentException(
          "tokens has " + tokens.length + " entries, expected batch*seqLen = " + batch * seqLen);
    }
    int[] cu = new int[tokens.length + 1];
    int n = 0;
    cu[n++] = 0;
    for (int b = 0; b < batch; b++) {
      int end = (b + 1) * seqLen;
      for (int t = b * seqLen; t < end - 1; t++) {
        if (tokens[t] == separator) {
          cu[n++] = t + 1;
        }
      }
      cu[n++] = end;
    }
    return new SeqLayout(Arrays.copyOf(cu, n));
  }

  public int sequences() {
    return cuSeqlens.length - 1;
  }

  public int totalTokens() {
    return cuSeqlens[cuSeqlens.length - 1];
  }

  public int start(int sequence) {
    return cuSeqlens[sequence];
  }

  public int end(int sequence) {
    return cuSeqlens[sequence + 1];
  }

  public int length(int sequence) {
    return cuSeqlens[sequence + 1] - cuSeqlens[sequence];
  }

  public int maxLength() {
    int max = 0;
    for (int s = 0; s < sequences(); s++) {
      max = Math.max(max, length(s));
    }
    return max;
  }

  /** A copy of {@code cu_seqlens}, length {@code sequences() + 1}. */
  public int[] cuSeqlens() {
    return cuSeqlens.clone();
  }

  /** Position of every token inside its own sequence: {@code [T]}. */
  public int[] positions() {
    int[] pos = new int[totalTokens()];
    for (int s = 0; s < sequences(); s++) {
      for (int t = start(s); t < end(s); t++) {
        pos[t] = t - start(s);
      }
    }
    return pos;
  }

  /** Throws unless this layout covers exactly {@code tokens} tokens. */
  public void requireTokens(int tokens, String what) {
    if (totalTokens() != tokens) {
      throw new IllegalArgumentException(
          what + " has " + tokens + " tokens but cu_seqlens covers " + totalTokens());
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SeqLayout other && Arrays.equals(cuSeqlens, other.cuSeqlens);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(cuSeqlens);
  }

  @Override
  public String toString() {
    return "cu_seqlens" + Arrays.toString(cuSeqlens);
  }
}
