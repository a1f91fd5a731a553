package io.mobaspark.trainer.exchange;

import java.io.Serializable;

/**
 * Everything a rank needs to join a run's gradient exchange, small and serializable so that the
 * Spark driver can ship it to the training tasks (it travels inside the task, so it is as private as
 * Spark's own RPC: turn on {@code spark.authenticate} and encryption on shared networks).
 *
 * @param kind          LOCAL (one rank, no network), DRIVER, RING or SHARED
 * @param worldSize     number of ranks
 * @param driverAddress {@code host:port} of the {@link DriverAggregator}, and the path of its local
 *                      socket for ranks on its host (DRIVER only, else ""; {@link PeerAddress})
 * @param secret        the per-run secret ({@link GradientExchanges#newSecret}); never printed
 * @param bucketBytes   fp32 bytes of gradient per bucket (a multiple of 4, at most 64 MiB)
 * @param wire          the dtype on the wire
 * @param timeoutMillis connect and read timeout; a read waits for the slowest rank's step, so it
 *                      must exceed the longest step time
 */
public record ExchangeSpec(Kind kind, int worldSize, String driverAddress, String secret,
    int bucketBytes, WireDType wire, int timeoutMillis) implements Serializable {
  public static final int MAX_BUCKET_BYTES = 64 << 20;
  /** Short secrets could be guessed offline from one recorded handshake. */
  public static final int MIN_SECRET_CHARS = 16;

  /** The exchange implementations. */
  public enum Kind {
    LOCAL,
    DRIVER,
    RING,
    /** Ranks of one host, averaging in shared memory ({@link SharedExchange}). */
    SHARED;

    /** {@code local | driver | ring | shared}, as in configs. */
    public static Kind parse(String name) {
      for (Kind k : values()) {
        if (k.name().equalsIgnoreCase(name)) {
          return k;
        }
      }
      throw new IllegalArgumentException("exchange kind must be local, driver, ring or shared, got '"
          + name + "'");
    }
  }

  public ExchangeSpec {
    if (kind == null || wire == null || driverAddress == null) {
      throw new IllegalArgumentException("kind, wire and driverAddress must be given (\"\" for no "
          + "driver)");
    }
    if (worldSize < 1 || (kind == Kind.LOCAL && worldSize != 1)) {
      throw new IllegalArgumentException("worldSize must be >= 1 (exactly 1 for LOCAL), got "
          + worldSize + " for " + kind);
    }
    if (kind == Kind.DRIVER) {
      PeerAddress.parse("driverAddress", driverAddress);
    }
    if (kind != Kind.LOCAL && (secret == null || secret.length() < MIN_SECRET_CHARS)) {
      throw new IllegalArgumentException("secret must have at least " + MIN_SECRET_CHARS
          + " characters for " + kind + ", got " + (secret == null ? "none" : secret.length()));
    }
    if (bucketBytes < 4 || bucketBytes % 4 != 0 || bucketBytes > MAX_BUCKET_BYTES) {
      throw new IllegalArgumentException("bucketBytes must be a multiple of 4 in [4, "
          + MAX_BUCKET_BYTES + "], got " + bucketBytes);
    }
    if (timeoutMillis < 1) {
      throw new IllegalArgumentException("timeoutMillis must be >= 1, got " + timeoutMillis);
    }
  }

  /** The single-process spec: no peers, no secret. */
  public static ExchangeSpec local() {
    return new ExchangeSpec(Kind.LOCAL, 1, "", null, 4 << 20, WireDType.FP32, 1);
  }

  /** Gradient elements per bucket. */
  public int bucketElements() {
    return bucketBytes / 4;
  }

  /** The most payload bytes one data frame carries. */
  int bucketWireBytes() {
    return bucketElements() * wire.bytes();
  }

  /** Without the secret, so that the spec can be logged. */
  @Override
  public String toString() {
    return "ExchangeSpec[kind=" + kind + ", worldSize=" + worldSize + ", driverAddress="
        + driverAddress + ", secret=<redacted>, bucketBytes=" + bucketBytes + ", wire=" + wire
        + ", timeoutMillis=" + timeoutMillis + "]";
  }
}
