package io.mobaspark.trainer.exchange;

/**
 * The messages of the exchange protocol (docs/exchange.md) and the payload length each may declare:
 * handshake frames have fixed sizes, text frames a small cap, data frames the session's bucket.
 */
enum FrameType {
  /** client → server: client nonce (32), world size, bucket elements. */
  HELLO(1, Handshake.NONCE_BYTES + 8, Handshake.NONCE_BYTES + 8),
  /** server → client: server nonce (32), server proof (32). */
  CHALLENGE(2, 2 * Handshake.NONCE_BYTES, 2 * Handshake.NONCE_BYTES),
  /** client → server: client proof (32). */
  AUTH(3, Handshake.PROOF_BYTES, Handshake.PROOF_BYTES),
  /** server → client: the handshake succeeded. */
  ACCEPT(4, 0, 0),
  /** server → client during the handshake: why the connection is refused (UTF-8). */
  REFUSE(5, 1, FrameType.MAX_TEXT_BYTES),
  /** any → any: why the session ends (UTF-8); the sender closes after it. */
  ABORT(6, 1, FrameType.MAX_TEXT_BYTES),
  /** rank → driver: one bucket of the rank's gradients; flag LAST marks the step's last bucket. */
  BUCKET(7, 0, -1),
  /** driver → rank: the mean of one bucket. */
  RESULT(8, 0, -1),
  /** ring: a partial sum of one chunk of a bucket, to the right neighbour. */
  REDUCE(9, 0, -1),
  /** ring: a finished mean of one chunk of a bucket, to the right neighbour. */
  GATHER(10, 0, -1),
  /**
   * shared kind, after the handshake: rank 0 → rank: where the arena file is (UTF-8 path); rank ↔
   * rank 0: CUDA IPC handles of the device arenas.
   */
  ARENA(11, 1, FrameType.MAX_TEXT_BYTES);

  static final int MAX_TEXT_BYTES = 1024;

  private final byte code;
  private final int minLength;
  /** -1: up to the session's data capacity. */
  private final int maxLength;

  FrameType(int code, int minLength, int maxLength) {
    this.code = (byte) code;
    this.minLength = minLength;
    this.maxLength = maxLength;
  }

  byte code() {
    return code;
  }

  static FrameType ofCode(int code) {
    for (FrameType t : values()) {
      if (t.code == code) {
        return t;
      }
    }
    return null;
  }

  int minLength() {
    return minLength;
  }

  /** The largest payload this type may declare when data frames carry at most {@code capacity}. */
  int maxLength(int capacity) {
    return maxLength < 0 ? capacity : maxLength;
  }
}
