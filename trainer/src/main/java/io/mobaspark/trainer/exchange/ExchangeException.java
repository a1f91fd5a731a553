package io.mobaspark.trainer.exchange;

/**
 * A failed exchange: a peer that died, timed out, was refused, or sent a malformed frame. The message
 * names this rank, the peer (rank and address) and, where one was under way, the step and bucket.
 */
public final class ExchangeException extends RuntimeException {
  public ExchangeException(String message) {
    super(message);
  }

  public ExchangeException(String message, Throwable cause) {
    super(message, cause);
  }
}
