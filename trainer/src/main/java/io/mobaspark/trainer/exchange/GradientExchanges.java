package io.mobaspark.trainer.exchange;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.cuda.CudaBackend;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;

/** Opens the exchange a spec describes, for one rank; and makes per-run secrets. */
public final class GradientExchanges {
  private static final SecureRandom RANDOM = new SecureRandom();

  private GradientExchanges() {}

  /** A fresh per-run secret: 32 random bytes, URL-safe base64 (43 characters). */
  public static String newSecret() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /**
   * Joins the exchange as {@code rank}. A world of one rank needs no peers and gets a
   * {@link LocalExchange} whatever the kind.
   *
   * @param host       this rank's address as the other ranks reach it (ring: its listener binds
   *                   there, on an ephemeral port); a peer (ring neighbour, driver) listening on
   *                   the same host is reached through its local socket (driver: may be null)
   * @param rendezvous swaps the ring listeners' addresses once (ring; shared: rank 0's local socket
   *                   and every rank's host; may be null for the driver)
   * @throws ExchangeException when a peer cannot be reached or refuses this rank
   */
  public static GradientExchange open(ExchangeSpec spec, int rank, String host,
      Rendezvous rendezvous) {
    if (spec == null) {
      throw new IllegalArgumentException("spec must be given");
    }
    if (rank < 0 || rank >= spec.worldSize()) {
      throw new IllegalArgumentException("rank must be in [0, " + spec.worldSize() + "), got "
          + rank);
    }
    if (spec.worldSize() == 1) {
      return new LocalExchange();
    }
    return switch (spec.kind()) {
      case LOCAL -> throw new IllegalStateException("a LOCAL spec has world size 1");
      case DRIVER -> DriverExchange.connect(spec, rank, host);
      case RING -> joinRing(spec, rank, host, rendezvous);
      case SHARED -> SharedExchange.join(spec, rank, host, rendezvous);
    };
  }

  /**
   * {@link #open}, with the ranks' backend: a {@code shared} world of GPU ranks averages in device
   * memory ({@link DeviceSharedExchange}, whose {@link DeviceGradients} the training step uses;
   * through host memory, with a warning, where two GPUs of one process cannot reach each other);
   * every other case is {@link #open}'s.
   */
  public static GradientExchange open(ExchangeSpec spec, int rank, String host,
      Rendezvous rendezvous, Backend backend) {
    if (spec != null && spec.kind() == ExchangeSpec.Kind.SHARED && spec.worldSize() > 1
        && backend instanceof CudaBackend cuda) {
      return DeviceSharedExchange.open(spec, rank, host, rendezvous, cuda.context());
    }
    return open(spec, rank, host, rendezvous);
  }

  private static GradientExchange joinRing(ExchangeSpec spec, int rank, String host,
      Rendezvous rendezvous) {
    if (host == null || host.isBlank() || rendezvous == null) {
      throw new IllegalArgumentException("a ring needs this rank's host and a rendezvous, got "
          + "host '" + host + "' and rendezvous " + rendezvous);
    }
    RingListener listener = RingListener.bind(host);
    List<String> addresses;
    try {
      addresses = rendezvous.allGather(listener.address());
    } catch (RuntimeException e) {
      listener.close();
      throw e;
    }
    if (addresses == null || addresses.size() != spec.worldSize()
        || !listener.address().equals(addresses.get(rank))) {
      listener.close();
      throw new ExchangeException("rank " + rank + ": the rendezvous returned " + addresses
          + ", expected " + spec.worldSize() + " addresses with " + listener.address()
          + " at index " + rank);
    }
    return RingExchange.connect(spec, rank, listener, addresses);
  }
}
